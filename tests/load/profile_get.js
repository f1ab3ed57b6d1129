// GET /v1/profiles/{id}: through the Envoy edge (REST) or directly over gRPC, chosen by MODE.
import http from 'k6/http';
import grpc from 'k6/net/grpc';
import { check } from 'k6';

const MODE = __ENV.MODE;            // "rest" or "grpc"
const TARGET = __ENV.TARGET;        // edge base URL, or host:port of the profile service
const PROFILE_ID = __ENV.PROFILE_ID;
const TOKEN = __ENV.TOKEN;

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '10s',
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

const TLS_DIR = __ENV.TLS_DIR;      // mTLS material of a caller identity (services require it)
const TLS = TLS_DIR ? {
  cacerts: [open(`${TLS_DIR}/ca.crt`)],
  cert: open(`${TLS_DIR}/edge.crt`),
  key: open(`${TLS_DIR}/edge.key`),
} : null;

const client = new grpc.Client();
let connected = false;

export default function () {
  if (MODE === 'rest') {
    const res = http.get(`${TARGET}/v1/profiles/${PROFILE_ID}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    check(res, { 'status 200': (r) => r.status === 200 });
    return;
  }
  if (!connected) {
    client.connect(TARGET, TLS ? { tls: TLS, reflect: true } : { plaintext: true, reflect: true });
    connected = true;
  }
  const res = client.invoke('teei.profile.v1.ProfileService/GetProfile', { profile_id: PROFILE_ID },
    { metadata: { authorization: `Bearer ${TOKEN}` } });
  check(res, { 'status OK': (r) => r && r.status === grpc.StatusOK });
}
