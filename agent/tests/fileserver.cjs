// A static file server for the agent's download test (run by integration.sh).
// usage: node fileserver.cjs FILE [CUT_FIRST_BYTES [DELAY_MS]]
// Serves FILE at any path with HTTP Range support. With CUT_FIRST_BYTES the
// first response is cut off after that many bytes, to exercise resuming;
// DELAY_MS holds every response back that long (a slow download).
// Prints "port N" once listening, then one "GET path range=START" per request.
const http = require('http');
const fs = require('fs');

const file = process.argv[2];
let cut = parseInt(process.argv[3] || '0', 10);
const delay = parseInt(process.argv[4] || '0', 10);
const data = fs.readFileSync(file);

const srv = http.createServer((req, res) => setTimeout(() => serve(req, res), delay));

function serve(req, res) {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
  const start = m ? parseInt(m[1], 10) : 0;
  console.log(`GET ${req.url} range=${start}`);
  if (start >= data.length && m) {
    res.writeHead(416, { 'Content-Range': `bytes */${data.length}` });
    res.end();
    return;
  }
  const headers = { 'Content-Length': data.length - start, 'Accept-Ranges': 'bytes' };
  if (m) headers['Content-Range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
  res.writeHead(m ? 206 : 200, headers);
  const body = data.subarray(start);
  if (cut > 0) {
    const n = cut;
    cut = 0;
    res.write(body.subarray(0, n), () => setTimeout(() => res.destroy(), 50));
    return;
  }
  res.end(body);
}
srv.listen(0, '127.0.0.1', () => console.log(`port ${srv.address().port}`));
