// One unary gRPC call per iteration: METHOD (full name) with REQUEST (JSON) to TARGET over mTLS (TLS_DIR).
import grpc from 'k6/net/grpc';
import { check } from 'k6';

const TLS_DIR = __ENV.TLS_DIR;
const TLS = TLS_DIR ? {
  cacerts: [open(`${TLS_DIR}/ca.crt`)],
  cert: open(`${TLS_DIR}/edge.crt`),
  key: open(`${TLS_DIR}/edge.key`),
} : null;
const REQUEST = JSON.parse(__ENV.REQUEST || '{}');
const METADATA = __ENV.TOKEN ? { authorization: `Bearer ${__ENV.TOKEN}` } : {};

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '10s',
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

const client = new grpc.Client();
let connected = false;

export default function () {
  if (!connected) {
    client.connect(__ENV.TARGET, TLS ? { tls: TLS, reflect: true } : { plaintext: true, reflect: true });
    connected = true;
  }
  const res = client.invoke(__ENV.METHOD, REQUEST, { metadata: METADATA });
  check(res, { 'status OK': (r) => r && r.status === grpc.StatusOK });
}
