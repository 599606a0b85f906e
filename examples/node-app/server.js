const http = require('node:http');
const port = process.env.PORT || 3000;
http
  .createServer((req, res) => res.end(`hello from ${req.url}\n`))
  .listen(port, () => console.log(`listening on ${port}`));
