// The official OpenAI Node client over HTTPS to pdsim-simulator started with
// --ssl-certfile/--ssl-keyfile, trusting the test's own CA (made with the openssl CLI).
// Run: node --test sim_tls.test.mjs   (PDSIM_SIMULATOR = the binary)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import OpenAI from 'openai';
import { startSimulator, stopSimulator } from './sim_process.mjs';

const dir = mkdtempSync(join(tmpdir(), 'pdsim-tls-'));
let proc;
let port;

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

before(async () => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pdsim node test CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'tls.crt', '-days', '2', '-extfile', 'ext.cnf');
  ({ proc, port } = await startSimulator(['--model', 'm', '--mode', 'echo',
    '--ssl-certfile', join(dir, 'tls.crt'), '--ssl-keyfile', join(dir, 'tls.key')]));
});

after(async () => {
  assert.equal(await stopSimulator(proc), 0);
  rmSync(dir, { recursive: true, force: true });
});

test('HTTPS with a CA the client trusts, streaming', async () => {
  const client = new OpenAI({
    baseURL: `https://localhost:${port}/v1`, apiKey: 'unused', maxRetries: 0,
    httpAgent: new https.Agent({ ca: readFileSync(join(dir, 'ca.crt')) }),
  });
  const stream = await client.chat.completions.create({
    model: 'm', messages: [{ role: 'user', content: 'secure hello' }], stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'secure hello');
});

test('a client without the CA refuses the certificate', async () => {
  const client = new OpenAI({ baseURL: `https://localhost:${port}/v1`, apiKey: 'unused',
    maxRetries: 0 });
  // refused for its certificate (not, say, for a closed port)
  await assert.rejects(client.models.list(), (e) => e instanceof OpenAI.APIConnectionError &&
    /CERT|certificate|verify/i.test(`${e.cause?.code ?? ''} ${e.cause?.message ?? ''}`));
});
