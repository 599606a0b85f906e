/**
 * Our own cases for the shell lexer, beyond BuildKit's vector files. Expected values follow
 * BuildKit's lex.go (73ed6825) and the inline Go tests of lex_test.go, re-expressed here.
 */
import type { ShellOptions } from '../../src/shell/index.js';

export interface WordCase {
  /** What the case shows. */
  name: string;
  word: string;
  env?: Record<string, string>;
  options?: ShellOptions;
  expected: string;
  /** When given, the exact `matched` / `unmatched` sets (sorted). */
  matched?: string[];
  unmatched?: string[];
}

export interface WordsCase {
  name: string;
  word: string;
  env?: Record<string, string>;
  options?: ShellOptions;
  expected: string[];
}

export interface ErrorCase {
  name: string;
  word: string;
  env?: Record<string, string>;
  options?: ShellOptions;
  /** Run through `processWords` instead of `processWord`. */
  words?: boolean;
  code: 'SHELL_SYNTAX' | 'SHELL_UNSET_REQUIRED';
  message: string;
}

const PATH = { FOO: '/usr/local/bin' };
const DOTS = { FOO: 'a.b.c' };

/** `#` `##` `%` `%%` `/` `//` and their shell patterns. */
export const patternCases: WordCase[] = [
  // prefix / suffix, shortest and longest
  { name: '# shortest prefix', word: '${FOO#*/}', env: PATH, expected: 'usr/local/bin' },
  { name: '## longest prefix', word: '${FOO##*/}', env: PATH, expected: 'bin' },
  { name: '% shortest suffix', word: '${FOO%/*}', env: PATH, expected: '/usr/local' },
  { name: '%% longest suffix', word: '${FOO%%/*}', env: PATH, expected: '' },
  { name: '# on dots', word: '${FOO#*.}', env: DOTS, expected: 'b.c' },
  { name: '## on dots', word: '${FOO##*.}', env: DOTS, expected: 'c' },
  { name: '% on dots', word: '${FOO%.*}', env: DOTS, expected: 'a.b' },
  { name: '%% on dots', word: '${FOO%%.*}', env: DOTS, expected: 'a' },
  { name: '# without a match keeps the value', word: '${FOO#x*}', env: DOTS, expected: 'a.b.c' },
  { name: '% without a match keeps the value', word: '${FOO%/}', env: PATH, expected: '/usr/local/bin' },
  { name: '# is anchored at the start', word: '${FOO#b}', env: DOTS, expected: 'a.b.c' },
  { name: '% is anchored at the end', word: '${FOO%b}', env: DOTS, expected: 'a.b.c' },
  { name: '# with a lone * removes nothing (shortest)', word: '${FOO#*}', env: DOTS, expected: 'a.b.c' },
  { name: '## with a lone * removes everything', word: '${FOO##*}', env: DOTS, expected: '' },
  { name: 'empty # pattern', word: '${FOO#}', env: DOTS, expected: 'a.b.c' },
  { name: 'empty %% pattern', word: '${FOO%%}', env: DOTS, expected: 'a.b.c' },
  { name: '? is one character', word: '${FOO#??}', env: DOTS, expected: 'b.c' },
  { name: '? at the end', word: '${FOO%?}', env: DOTS, expected: 'a.b.' },
  { name: '. is literal, not any character', word: '${FOO#a?b}', env: { FOO: 'axbc' }, expected: 'c' },
  { name: '. does not match other characters', word: '${FOO#a.}', env: { FOO: 'abc' }, expected: 'abc' },
  { name: '[...] is literal: no bracket expressions', word: '${FOO#[ab]}', env: { FOO: '[ab]c' }, expected: 'c' },
  { name: '[...] does not match a member', word: '${FOO#[ab]}', env: { FOO: 'ac' }, expected: 'ac' },
  { name: 'regex characters are literal', word: '${FOO#(a|b)+^$}', env: { FOO: '(a|b)+^$x' }, expected: 'x' },
  { name: 'escaped * is literal', word: '${FOO#\\*}', env: { FOO: '*a' }, expected: 'a' },
  { name: 'escaped * does not match others', word: '${FOO#\\*}', env: { FOO: 'xa' }, expected: 'xa' },
  { name: 'escaped ? is literal', word: '${FOO#?\\?}', env: { FOO: '???y' }, expected: '?y' },
  { name: 'escaped backslash', word: '${FOO#\\\\}', env: { FOO: '\\a' }, expected: 'a' },
  { name: 'escaped } does not close', word: '${FOO%\\}}', env: { FOO: 'a}' }, expected: 'a' },
  { name: '%% with escaped * and a wildcard', word: '${FOO%%\\**}', env: { FOO: 'xx**' }, expected: 'xx' },
  { name: '%% mixing escaped and wildcard *', word: '${FOO%%\\**\\*}', env: { FOO: 'a***yy*' }, expected: 'a' },
  { name: 'every special character (lex_test)', word: '${FOO#()[]{\\}^$.\\*\\?|\\\\}', env: { FOO: '()[]{}^$.*?|\\x' }, expected: 'x' },
  { name: '* does not cross a newline', word: '${FOO#*b}', env: { FOO: 'a\nb' }, expected: 'a\nb' },
  { name: '* crosses a carriage return (Go . is anything but \\n)', word: '${FOO#*b}', env: { FOO: 'a\rb' }, expected: '' },
  { name: '? matches U+2028', word: '${FOO//?/x}', env: { FOO: 'a\u2028' }, expected: 'xx' },
  { name: '? is a whole code point (Korean)', word: '${FOO#?}', env: { FOO: '한국어' }, expected: '국어' },
  { name: '% ? is a whole code point (emoji)', word: '${FOO%?}', env: { FOO: '😀x😀' }, expected: '😀x' },
  { name: '## on Korean', word: '${FOO##*국}', env: { FOO: '한국어한국어' }, expected: '어' },
  { name: 'pattern from a variable keeps its wildcards', word: '${FOO#$P}', env: { FOO: 'a.b.c', P: '*.' }, expected: 'b.c' },
  { name: 'empty pattern from a variable', word: '${FOO%%$P}', env: { FOO: 'xxyy', P: '' }, expected: 'xxyy' },
  { name: 'quoted pattern', word: '${FOO#"a."}', env: DOTS, expected: 'b.c' },
  { name: 'inside double quotes', word: '"${FOO##*.} x"', env: DOTS, expected: 'c x' },
  { name: 'unset value', word: '${NOPE#x}', expected: '' },

  // replacement
  { name: '/ replaces the first match', word: '${FOO/o/0}', env: { FOO: 'foo' }, expected: 'f0o' },
  { name: '// replaces all matches', word: '${FOO//o/0}', env: { FOO: 'foo' }, expected: 'f00' },
  { name: '/ with no match', word: '${FOO/x/y}', env: { FOO: 'foo' }, expected: 'foo' },
  { name: '/ * is greedy', word: '${FOO/o*/X}', env: { FOO: 'foo.o' }, expected: 'fX' },
  { name: '// * replaces once (empty match after a match is skipped)', word: '${FOO//*/x}', env: { FOO: 'abc' }, expected: 'x' },
  { name: '// ? replaces each character', word: '${FOO//?/x}', env: { FOO: 'a한😀' }, expected: 'xxx' },
  { name: '// with an empty pattern inserts everywhere', word: '${FOO///x}', env: { FOO: 'ab' }, expected: 'xaxbx' },
  { name: '/ empty replacement deletes', word: '${FOO/b/}', env: { FOO: 'abc' }, expected: 'ac' },
  { name: '// empty pattern and replacement', word: '${FOO///}', env: { FOO: 'xxyy' }, expected: 'xxyy' },
  { name: '/# is not an anchor: # is literal', word: '${FOO/#/x}', env: { FOO: 'a#b' }, expected: 'axb' },
  { name: '/% is not an anchor: % is literal', word: '${FOO/%/x}', env: { FOO: 'a%b' }, expected: 'axb' },
  { name: 'escaped / in the pattern', word: '${FOO//\\//:}', env: PATH, expected: ':usr:local:bin' },
  { name: 'escaped / in the replacement keeps its backslash', word: '${FOO//\\//\\/}', env: { FOO: '/tmp/foo.txt' }, expected: '\\/tmp\\/foo.txt' },
  { name: 'needle with wildcards from a variable', word: '${FOO/$N/.} - ${FOO//$N/.}', env: { FOO: '/foo*/*/*.txt', N: '\\*/' }, expected: '/foo.*/*.txt - /foo..*.txt' },
  { name: 'needle and replacement from variables', word: '${FOO/$N/$R}', env: { FOO: 'http://google.de', N: 'http://', R: 'https://' }, expected: 'https://google.de' },
  { name: '? in a needle from a variable', word: '${FOO//$N/$R}', env: { FOO: '/a/foo/b/c.txt', N: '/?/', R: '/' }, expected: '/foo/c.txt' },
  { name: 'empty needle from a variable', word: '${FOO/$N/ww}', env: { FOO: 'xxyy', N: '' }, expected: 'wwxxyy' },
  { name: '// replacement: $0 is the match (Go template)', word: "${FOO//b/'[$0]'}", env: { FOO: 'abcb' }, expected: 'a[b]c[b]' },
  { name: '// replacement: ${0} is the match', word: "${FOO//b/'<${0}>'}", env: { FOO: 'ab' }, expected: 'a<b>' },
  { name: '// replacement: $$ is a dollar', word: "${FOO//b/'$$'}", env: { FOO: 'abc' }, expected: 'a$c' },
  { name: '// replacement: other $names are empty', word: "${FOO//b/'<$x$1>'}", env: { FOO: 'abc' }, expected: 'a<>c' },
  { name: '// replacement: a lone $ stays', word: "${FOO//b/'$'}", env: { FOO: 'abc' }, expected: 'a$c' },
  { name: '/ replacement is literal (no template)', word: "${FOO/b/'[$0]'}", env: { FOO: 'abcb' }, expected: 'a[$0]cb' },
  { name: '/ on an unset variable', word: '${NOPE/a/b}', expected: '' },
  { name: '/ on Korean', word: '${FOO//국/-}', env: { FOO: '한국어한국어' }, expected: '한-어한-어' },
];

const CMP = { SET: 'v', EMPTY: '' };

/** With a colon an empty value counts as unset; without, only unset does. */
export const colonCases: WordCase[] = [
  { name: ':- set', word: '${SET:-w}', env: CMP, expected: 'v' },
  { name: ':- empty', word: '${EMPTY:-w}', env: CMP, expected: 'w' },
  { name: ':- unset', word: '${UNSET:-w}', env: CMP, expected: 'w' },
  { name: '- set', word: '${SET-w}', env: CMP, expected: 'v' },
  { name: '- empty', word: '${EMPTY-w}', env: CMP, expected: '' },
  { name: '- unset', word: '${UNSET-w}', env: CMP, expected: 'w' },
  { name: ':+ set', word: '${SET:+w}', env: CMP, expected: 'w' },
  { name: ':+ empty', word: '${EMPTY:+w}', env: CMP, expected: '' },
  { name: ':+ unset', word: '${UNSET:+w}', env: CMP, expected: '' },
  { name: '+ set', word: '${SET+w}', env: CMP, expected: 'w' },
  { name: '+ empty', word: '${EMPTY+w}', env: CMP, expected: 'w' },
  { name: '+ unset', word: '${UNSET+w}', env: CMP, expected: '' },
  { name: ':? set', word: '${SET:?m}', env: CMP, expected: 'v' },
  { name: '? set', word: '${SET?m}', env: CMP, expected: 'v' },
  { name: '? empty', word: '${EMPTY?m}', env: CMP, expected: '' },
  { name: ':- empty default', word: '${UNSET:-}', env: CMP, expected: '' },
  { name: 'nested defaults', word: '${A:-${B:-${C:-deep}}}', expected: 'deep' },
  { name: 'default with quotes and spaces', word: '${UNSET:-"a  b" \'c\'}', expected: 'a  b c' },
  {
    name: 'release file name (lex_test), variant set',
    word: 'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz',
    env: { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7' },
    expected: 'something-v1.2.3.linux-arm-v7.tar.gz',
  },
  {
    name: 'release file name (lex_test), variant empty',
    word: 'something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz',
    env: { VERSION: 'v1.2.3', TARGETOS: 'linux', TARGETARCH: 'arm64', TARGETVARIANT: '' },
    expected: 'something-v1.2.3.linux-arm64.tar.gz',
  },
];

/** The escape character, quotes, names and other lexing details. */
export const lexingCases: WordCase[] = [
  { name: 'backtick escapes $', word: 'a`$X', env: { X: '1' }, options: { escape: '`' }, expected: 'a$X' },
  { name: 'backtick: backslash is literal', word: 'C:\\dir\\$X', env: { X: '1' }, options: { escape: '`' }, expected: 'C:\\dir\\1' },
  { name: 'backtick escapes a double quote', word: '"a`"b"', options: { escape: '`' }, expected: 'a"b' },
  { name: 'backtick escapes itself in double quotes', word: '"a``b"', options: { escape: '`' }, expected: 'a`b' },
  { name: 'backtick stays before other characters in double quotes', word: '"a`tb"', options: { escape: '`' }, expected: 'a`tb' },
  { name: 'backtick escapes a space', word: 'a` b', options: { escape: '`' }, expected: 'a b' },
  { name: 'backtick at the end is dropped', word: 'ab`', options: { escape: '`' }, expected: 'ab' },
  { name: 'backtick is literal in single quotes', word: "'a`b'", options: { escape: '`' }, expected: 'a`b' },
  { name: 'backslash in double quotes with backtick escape', word: '"a\\$X"', env: { X: '1' }, options: { escape: '`' }, expected: 'a\\1' },
  { name: 'backtick is literal with the default escape', word: 'a`b', expected: 'a`b' },
  { name: 'single quotes keep everything', word: "'$X \\ \"'", env: { X: '1' }, expected: '$X \\ "' },
  { name: 'double quotes expand', word: '"$X \'y\'"', env: { X: '1' }, expected: "1 'y'" },
  { name: 'adjacent quotes join', word: "a'b'\"c\"d", expected: 'abcd' },
  { name: 'name stops at a non-name character', word: '$X.y', env: { X: '1' }, expected: '1.y' },
  { name: 'name with underscore and digits', word: '$X_1y', env: { X_1y: 'ok' }, expected: 'ok' },
  { name: 'Korean name characters are letters', word: '$KOREAN국', env: { KOREAN: 'k', KOREAN국: 'kk' }, expected: 'kk' },
  { name: 'positional parameter takes all digits', word: '$12x', env: { '1': 'one' }, expected: 'x' },
  { name: 'special parameter is one character', word: '$@x$$y$#', expected: 'xy' },
  { name: '${0} is a name too', word: 'a${0}b', env: { '0': 'zero' }, expected: 'azerob' },
  { name: '$ before a non-name stays', word: '$ $. $', expected: '$ $. $' },
  { name: 'escaped $ inside double quotes', word: '"\\$X"', env: { X: '1' }, expected: '$X' },
  { name: 'a lone < is ordinary', word: 'a<b', expected: 'a<b' },
  { name: '<< keeps the blanks after it', word: '<<  \tEOF', expected: '<<  \tEOF' },
  { name: '<< inside a default', word: '${X:-<< a}', expected: '<< a' },
  { name: 'a leading byte order mark is dropped (Go text/scanner)', word: '\uFEFFa$X', env: { X: '1' }, expected: 'a1' },
  { name: 'emoji pass through', word: '😀"$X"😀', env: { X: '👽' }, expected: '😀👽😀' },
  { name: 'no special characters', word: 'plain text / with [stuff]', expected: 'plain text / with [stuff]' },
];

/** Options: raw quotes, raw escapes, skipping unset variables, ignoring quotes. */
export const optionCases: WordCase[] = [
  { name: 'rawQuotes keeps double quotes', word: 'a"b $X"', env: { X: '1' }, options: { rawQuotes: true }, expected: 'a"b 1"' },
  { name: 'rawQuotes keeps single quotes', word: "'$X'", env: { X: '1' }, options: { rawQuotes: true }, expected: "'$X'" },
  { name: 'rawEscapes keeps an escape', word: 'a\\ b\\$X', env: { X: '1' }, options: { rawEscapes: true }, expected: 'a\\ b\\$X' },
  { name: 'rawEscapes keeps a trailing escape', word: 'ab\\', options: { rawEscapes: true }, expected: 'ab\\' },
  { name: 'rawEscapes and rawQuotes in double quotes', word: '"a\\"b"', options: { rawEscapes: true, rawQuotes: true }, expected: '"a\\"b"' },
  // Upstream writes the escape character twice when it escapes nothing inside double quotes.
  { name: 'rawEscapes doubles a non-escaping backslash in double quotes', word: '"a\\tb"', options: { rawEscapes: true }, expected: 'a\\\\tb' },
  { name: 'rawEscapes with backtick', word: 'a`$X', env: { X: '1' }, options: { escape: '`', rawEscapes: true }, expected: 'a`$X' },
  { name: 'skipUnsetEnv keeps $NAME', word: '$NOPE-$SET', env: { SET: 'v' }, options: { skipUnsetEnv: true }, expected: '$NOPE-v' },
  { name: 'skipUnsetEnv keeps ${NAME}', word: '${NOPE}', options: { skipUnsetEnv: true }, expected: '${NOPE}' },
  { name: 'skipUnsetEnv expands empty values', word: '[${EMPTY}]', env: { EMPTY: '' }, options: { skipUnsetEnv: true }, expected: '[]' },
  { name: 'skipUnsetEnv keeps ${NAME:-w}', word: '${NOPE:-w}', options: { skipUnsetEnv: true }, expected: '${NOPE:-w}' },
  { name: 'skipUnsetEnv writes the processed word', word: '${NOPE:-"a b"$SET}', env: { SET: 'v' }, options: { skipUnsetEnv: true }, expected: '${NOPE:-a bv}' },
  { name: 'skipUnsetEnv keeps ${NAME?} instead of failing', word: '${NOPE?}', options: { skipUnsetEnv: true }, expected: '${NOPE?}' },
  { name: 'skipUnsetEnv keeps ${NAME##p}', word: '${NOPE##*/}', options: { skipUnsetEnv: true }, expected: '${NOPE##*/}' },
  // Upstream writes a single slash back even for //.
  { name: 'skipUnsetEnv writes // back as /', word: '${NOPE//a/b}', options: { skipUnsetEnv: true }, expected: '${NOPE/a/b}' },
  // The unset check comes before the operator check upstream.
  { name: 'skipUnsetEnv passes an unsupported operator through', word: '${NOPE:=x}', options: { skipUnsetEnv: true }, expected: '${NOPE:=x}' },
  { name: 'skipUnsetEnv still expands set variables', word: '${SET:-w}', env: { SET: 'v' }, options: { skipUnsetEnv: true }, expected: 'v' },
  { name: 'skipUnsetEnv with raw quotes (heredoc detection)', word: '"$NOPE" \'x\'', options: { skipUnsetEnv: true, rawQuotes: true }, expected: '"$NOPE" \'x\'' },
  { name: 'skipProcessQuotes treats quotes as characters', word: '"a $X" \'$X\'', env: { X: '1' }, options: { skipProcessQuotes: true }, expected: '"a 1" \'1\'' },
  { name: 'skipProcessQuotes allows an odd quote', word: 'it\'s $X', env: { X: '1' }, options: { skipProcessQuotes: true }, expected: "it's 1" },
];

/** `matched` and `unmatched` (TestProcessWithMatches, re-expressed, plus our own). */
export const matchCases: WordCase[] = [
  { name: 'no variables', word: 'x', env: { DUMMY: 'dummy' }, expected: 'x', matched: [], unmatched: [] },
  { name: 'unset ${}', word: 'x ${UNUSED}', env: { DUMMY: 'dummy' }, expected: 'x ', matched: [], unmatched: ['UNUSED'] },
  { name: 'set ${}', word: 'x ${FOO}', env: { FOO: 'y' }, expected: 'x y', matched: ['FOO'], unmatched: [] },
  { name: '- forms', word: '${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'xxx  ccc', matched: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { name: ':- forms', word: '${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'xxx bbb ccc', matched: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { name: '+ forms', word: '${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'aaa bbb ', matched: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { name: ':+ forms', word: '${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}', env: { FOO: 'xxx', BAR: '' }, expected: 'aaa  ', matched: ['BAR', 'FOO'], unmatched: ['BAZ'] },
  { name: 'empty :- default', word: '${FOO:-}', env: {}, expected: '', matched: [], unmatched: ['FOO'] },
  { name: '? on empty', word: '${BAR?bbb}', env: { FOO: 'xxx', BAR: '' }, expected: '', matched: ['BAR'], unmatched: [] },
  // The default word is expanded before the value is looked at: B is looked up even though A is set.
  { name: 'the word of a set variable is still expanded', word: '${A:-$B}', env: { A: 'a' }, expected: 'a', matched: ['A'], unmatched: ['B'] },
  { name: 'positional and special parameters are looked up', word: '$1${@}$$', expected: '', matched: [], unmatched: ['$', '1', '@'] },
  { name: 'pattern variables', word: '${FOO#$BAR}', env: { FOO: 'xxyy', BAR: 'x' }, expected: 'xyy', matched: ['BAR', 'FOO'], unmatched: [] },
  { name: 'mixed', word: '${ABC:-.}${FOO%x}${ABC:-.}', env: { FOO: 'xxyy' }, expected: '.xxyy.', matched: ['FOO'], unmatched: ['ABC'] },
  { name: 'replacement variables', word: '${FOO/$N/$R}', env: { FOO: 'ab', N: 'a' }, expected: 'b', matched: ['FOO', 'N'], unmatched: ['R'] },
  { name: 'escaped and single-quoted names are not looked up', word: "\\$A '$B' \"\\$C\"", expected: '$A $B $C', matched: [], unmatched: [] },
  { name: 'skipUnsetEnv still records', word: '$NOPE', options: { skipUnsetEnv: true }, expected: '$NOPE', matched: [], unmatched: ['NOPE'] },
];

/** `processWords`: splitting after expansion, and heredoc markers. */
export const wordsCases: WordsCase[] = [
  { name: 'empty input', word: '', expected: [] },
  { name: 'blanks only', word: ' \t ', expected: [] },
  { name: 'an empty quoted word disappears', word: 'a "" b', expected: ['a', 'b'] },
  { name: 'only empty quotes', word: "''", expected: [] },
  { name: 'escaped blank joins', word: 'a\\ b c', expected: ['a b', 'c'] },
  { name: 'unquoted expansion splits', word: 'x$V', env: { V: ' a  b ' }, expected: ['x', 'a', 'b'] },
  { name: 'quoted expansion does not split', word: 'x"$V"', env: { V: ' a  b ' }, expected: ['x a  b '] },
  { name: 'non-breaking space splits (Go unicode.IsSpace)', word: 'a\u00a0b', expected: ['a', 'b'] },
  { name: 'ideographic space splits', word: '한\u3000국', expected: ['한', '국'] },
  { name: 'newline splits', word: 'a\nb', expected: ['a', 'b'] },
  { name: 'Korean words', word: '안녕 $K', env: { K: '한국어 말' }, expected: ['안녕', '한국어', '말'] },
  { name: 'heredoc marker', word: 'cat <<EOF', expected: ['cat', '<<EOF'] },
  { name: 'heredoc marker with blanks after <<', word: 'cat << \tEOF >out', expected: ['cat', '<< \tEOF', '>out'] },
  { name: 'heredoc with dash', word: 'cat <<-EOF', expected: ['cat', '<<-EOF'] },
  { name: 'heredoc raw quotes (parser detection)', word: 'cat <<"EOF" x', options: { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }, expected: ['cat', '<<"EOF"', 'x'] },
  { name: 'heredoc quotes removed', word: "cat <<'EOF'", expected: ['cat', '<<EOF'] },
  { name: 'a single < is ordinary', word: 'a < b', expected: ['a', '<', 'b'] },
  { name: 'three <', word: 'a <<< b', expected: ['a', '<<<', 'b'] },
  { name: 'skipUnsetEnv and rawQuotes', word: '"$NOPE" ${X} $Y', env: { Y: 'a b' }, options: { skipUnsetEnv: true, rawQuotes: true }, expected: ['"$NOPE"', '${X}', 'a', 'b'] },
  // BuildKit shares one buffer between the current word and the word of ${X<op>…}, and the nested
  // read clears it: what the current word held before such an expansion is lost.
  { name: 'text before ${X:-…} in the same word is dropped (upstream quirk)', word: 'ab${X:-c}d e', expected: ['cd', 'e'] },
  { name: 'text before ${X#…} is dropped too', word: 'a b${X#y}c', env: { X: 'yz' }, expected: ['a', 'zc'] },
  { name: 'simple ${X} keeps the text before it', word: 'ab${X}d', env: { X: 'c' }, expected: ['abcd'] },
  { name: 'quirk inside double quotes', word: 'ab"${X:-c}"d', expected: ['cd'] },
];

/** Errors: exact codes and messages. */
export const errorCases: ErrorCase[] = [
  { name: 'unterminated single quote', word: "he'llo", code: 'SHELL_SYNTAX', message: `failed to process "he'llo": unexpected end of statement while looking for matching single-quote` },
  { name: 'unterminated double quote', word: '"hello\\"', code: 'SHELL_SYNTAX', message: 'failed to process "\\"hello\\\\\\"": unexpected end of statement while looking for matching double-quote' },
  { name: 'unterminated quote in words mode', word: 'hello" there', words: true, code: 'SHELL_SYNTAX', message: 'failed to process "hello\\" there": unexpected end of statement while looking for matching double-quote' },
  { name: '${ at the end', word: 'a${', code: 'SHELL_SYNTAX', message: `failed to process "a\${": syntax error: missing '}'` },
  { name: '${}', word: 'he${}xx', code: 'SHELL_SYNTAX', message: 'failed to process "he${}xx": syntax error: bad substitution' },
  { name: '${{', word: '${{aaa}', code: 'SHELL_SYNTAX', message: 'failed to process "${{aaa}": syntax error: bad substitution' },
  { name: '${:', word: '${:}', code: 'SHELL_SYNTAX', message: 'failed to process "${:}": syntax error: bad substitution' },
  // The character after the name is read as an operator; at the end Go prints U+FFFD.
  { name: '${NAME without }', word: '${FOO', code: 'SHELL_SYNTAX', message: 'failed to process "${FOO": unsupported modifier (\uFFFD) in substitution' },
  { name: '${.}', word: 'he${.}', code: 'SHELL_SYNTAX', message: 'failed to process "he${.}": unsupported modifier (.) in substitution' },
  { name: '${NAME:word}', word: 'he${XXX:YYY}', code: 'SHELL_SYNTAX', message: 'failed to process "he${XXX:YYY}": unsupported modifier (:Y) in substitution' },
  { name: ':= is unsupported', word: '${FOO:=x}', env: { FOO: 'v' }, code: 'SHELL_SYNTAX', message: 'failed to process "${FOO:=x}": unsupported modifier (:=) in substitution' },
  { name: '= is unsupported', word: '${FOO=x}', code: 'SHELL_SYNTAX', message: 'failed to process "${FOO=x}": unsupported modifier (=) in substitution' },
  { name: ':# is unsupported', word: '${FOO:#x}', code: 'SHELL_SYNTAX', message: 'failed to process "${FOO:#x}": unsupported modifier (:#) in substitution' },
  { name: ':% is unsupported', word: '${FOO:%}', code: 'SHELL_SYNTAX', message: 'failed to process "${FOO:%}": unsupported modifier (:%) in substitution' },
  { name: 'missing } after a default', word: '${X:-abc', code: 'SHELL_SYNTAX', message: `failed to process "\${X:-abc": syntax error: missing '}'` },
  { name: 'missing } after an unterminated quote in a default', word: "${X:-'abc}", code: 'SHELL_SYNTAX', message: `failed to process "\${X:-'abc}": syntax error: missing '}'` },
  { name: 'nested error that is not at the end', word: '${X:-${}}', code: 'SHELL_SYNTAX', message: 'failed to process "${X:-${}}": syntax error: bad substitution' },
  { name: 'missing / in ${//}', word: '${FOO//}', env: { FOO: 'xxyy' }, code: 'SHELL_SYNTAX', message: `failed to process "\${FOO//}": syntax error: missing '/' in \${}` },
  { name: 'missing / in ${/}', word: '${FOO/ab}', code: 'SHELL_SYNTAX', message: `failed to process "\${FOO/ab}": syntax error: missing '/' in \${}` },
  { name: 'missing } in ${/ / }', word: '${FOO/a/b', code: 'SHELL_SYNTAX', message: `failed to process "\${FOO/a/b": syntax error: missing '}'` },
  { name: 'invalid escape in a # pattern', word: '${FOO#\\x}', env: { FOO: 'x' }, code: 'SHELL_SYNTAX', message: "failed to process \"${FOO#\\\\x}\": invalid pattern (\\x) in substitution: invalid escape '\\x'" },
  // % works on the reversed pattern, and upstream reports that one.
  { name: 'invalid escape in a % pattern names the reversed pattern', word: '${FOO%ab\\x}', env: { FOO: 'x' }, code: 'SHELL_SYNTAX', message: "failed to process \"${FOO%ab\\\\x}\": invalid pattern (\\xba) in substitution: invalid escape '\\x'" },
  { name: 'escaped # in a # pattern is invalid', word: '${FOO#\\#}', code: 'SHELL_SYNTAX', message: "failed to process \"${FOO#\\\\#}\": invalid pattern (\\#) in substitution: invalid escape '\\#'" },
  { name: 'trailing backslash from a variable', word: '${FOO//$P/x}', env: { FOO: 'a', P: 'a\\' }, code: 'SHELL_SYNTAX', message: "failed to process \"${FOO//$P/x}\": invalid pattern (a\\) in substitution: invalid escape '\\\uFFFD'" },
  { name: '? unset without message', word: 'he${XXX?}', code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "he${XXX?}": XXX: is not allowed to be unset' },
  { name: ':? unset without message', word: '${XXX:?}', code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "${XXX:?}": XXX: is not allowed to be unset' },
  { name: ':? empty without message', word: '${NULL:?}', env: { NULL: '' }, code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "${NULL:?}": NULL: is not allowed to be empty' },
  { name: ':? empty with message', word: '${VAR:?message here$ARG}', env: { VAR: '', ARG: 'x' }, code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "${VAR:?message here$ARG}": VAR: message herex' },
  { name: ':? unset with message', word: '${VAR:?message here$ARG}', env: { ARG: 'x' }, code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "${VAR:?message here$ARG}": VAR: message herex' },
  { name: '? unset with message', word: '${VAR?message here$ARG}', env: { ARG: 'x' }, code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "${VAR?message here$ARG}": VAR: message herex' },
  { name: 'nested ? keeps its own message', word: '${A:-${B?need B}}', code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "${A:-${B?need B}}": B: need B' },
  { name: '? in words mode', word: 'a ${B?}', words: true, code: 'SHELL_UNSET_REQUIRED', message: 'failed to process "a ${B?}": B: is not allowed to be unset' },
  { name: 'the word is quoted as Go %q', word: '\t한"\\\u00a0${', code: 'SHELL_SYNTAX', message: `failed to process "\\t한\\"\\\\\\u00a0\${": syntax error: missing '}'` },
];
