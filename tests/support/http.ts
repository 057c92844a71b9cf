import { request as rawRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions as httpsRequestOptions } from 'node:https';

/**
 * A POST /patients whose body is sent in two parts: the request is in flight until `finish()`
 * sends the rest. For shutdown tests.
 */
export function slowUpload(port: number, body: string) {
  let finishBody!: () => void;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = rawRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/patients',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
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

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * One request with exactly these options, over http or https (by the URL's scheme): what fetch
 * cannot do (send a Host of our own, trust a test CA). A body is sent as JSON.
 */
export function exchange(url: string, options: httpsRequestOptions, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {
    ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
    ...options.headers,
  };
  const send = url.startsWith('https:') ? httpsRequest : rawRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { ...options, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
