// One HTTP request per iteration, described by the environment: METHOD, URL, TOKEN, and for writes BODY
// (a JSON template: {n} becomes a number unique in the run) or BODIES (a JSON file of pre-built
// requests {url, body, headers}, one per iteration, used once each).
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const METHOD = __ENV.METHOD || 'GET';
const URL = __ENV.URL;
const BODY = __ENV.BODY || null;
const HEADERS = { 'content-type': 'application/json' };
if (__ENV.TOKEN) HEADERS.authorization = `Bearer ${__ENV.TOKEN}`;
const BODIES = __ENV.BODIES ? new SharedArray('bodies', () => JSON.parse(open(__ENV.BODIES))) : null;
const VUS = Number(__ENV.VUS || 8);

export const options = {
  scenarios: {
    main: BODIES
      ? { executor: 'shared-iterations', vus: VUS, iterations: BODIES.length, maxDuration: __ENV.MAX_DURATION || '120s' }
      : { executor: 'constant-vus', vus: VUS, duration: __ENV.DURATION || '10s' },
  },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const n = exec.scenario.iterationInTest;
  let res;
  if (BODIES) {
    const item = BODIES[n];
    res = http.request('POST', item.url, item.body, { headers: item.headers });
  } else {
    const body = BODY ? BODY.replaceAll('{n}', `${__ENV.RUN || 'r'}-${n}`) : null;
    res = http.request(METHOD, URL, body, { headers: HEADERS });
  }
  check(res, { 'status 200': (r) => r.status === 200 });
}
