import { request as rawRequest } from 'node:http';

/**
 * A POST /patients whose body is sent in two parts: the request is in flight until `finish()`
 * sends the rest. For shutdown tests.
 */
export function slowUpload(port: number, body: string) {
  let finishBody!: () => void;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = rawRequest(
      { host: '127.0.0.1', port, path: '/patients', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 5));
    finishBody = () => req.end(body.slice(5));
  });
  response.catch(() => undefined);
  return { response, finish: () => finishBody() };
}
