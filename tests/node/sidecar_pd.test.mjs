// The official OpenAI Node client drives full P/D requests through pdsim-sidecar:
// a prefill simulator, a decode simulator and the sidecar in front of the decoder.
// Run: node --test sidecar_pd.test.mjs   (PDSIM_SIMULATOR, PDSIM_SIDECAR = binaries)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import OpenAI from 'openai';

const SIM = process.env.PDSIM_SIMULATOR ?? 'build/simulator/pdsim-simulator';
const SIDECAR = process.env.PDSIM_SIDECAR ?? 'build/sidecar/pdsim-sidecar';
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const procs = [];

// Start a pdsim binary on 127.0.0.1:0 and resolve its real port from the log.
function start(bin, args) {
  const p = spawn(bin, ['--host', '127.0.0.1', '--port', '0', '--http-threads', '32', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(p);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin}: no listening line`)), 15000);
    readline.createInterface({ input: p.stderr }).on('line', (line) => {
      try {
        const j = JSON.parse(line);
        if (j.msg === 'listening') { clearTimeout(timer); resolve(j.port); }
      } catch { /* not JSON */ }
    });
    p.on('exit', (code) => reject(new Error(`${bin} exited ${code}`)));
  });
}

let client;
let prefillPort;

before(async () => {
  const common = ['--model', MODEL, '--mode', 'echo', '--inter-token-latency', '5ms'];
  prefillPort = await start(SIM, common);
  const decodePort = await start(SIM, [...common, '--kv-cache-transfer-latency', '5ms']);
  const sc = await start(SIDECAR, ['--secure-proxy=false', '--model-server-port',
    String(decodePort)]);
  client = new OpenAI({
    baseURL: `http://127.0.0.1:${sc}/v1`, apiKey: 'unused', maxRetries: 0,
    defaultHeaders: { 'x-prefiller-host-port': `127.0.0.1:${prefillPort}` },
  });
});

after(async () => {
  for (const p of procs.reverse()) {
    const exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
    p.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});

async function prefillRequests() {
  const r = await fetch(`http://127.0.0.1:${prefillPort}/metrics`);
  const m = (await r.text()).match(/^vllm:request_success_total\{[^}]*\} (\S+)$/gm) ?? [];
  return m.reduce((a, line) => a + Number(line.split(' ').pop()), 0);
}

test('chat through P/D, non-streaming', async () => {
  const before = await prefillRequests();
  const r = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'This is a test.' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content, 'This is a test.');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(await prefillRequests(), before + 1);
});

test('chat through P/D, streaming with usage', async () => {
  const before = await prefillRequests();
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'This is a test.' }], stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'This is a test.');
  assert.ok(chunks >= 6, `only ${chunks} chunks`);
  assert.equal(usage.completion_tokens, 5);
  assert.equal(usage.prompt_tokens_details.cached_tokens, 0); // the prefiller's value
  assert.equal(await prefillRequests(), before + 1);
});

test('completions through P/D', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'hello pd world', max_tokens: 2 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, 'hello pd world'); // echo mode never truncates (upstream)
  assert.equal(r.choices[0].finish_reason, 'length');
});

test('errors surface as APIError with the status', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && /no-such-model/.test(e.message),
  );
});
