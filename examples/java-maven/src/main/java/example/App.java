package example;

public class App {
  public static void main(String[] args) {
    System.out.println("hello from a jar built by build-image");
  }
}
