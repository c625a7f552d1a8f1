// The official OpenAI Node client, streaming through pdsim-controller --local: the
// README's quick start (local P/D from a PDSimulation file), no prefill header, so the
// sidecar's default prefiller (the prefill address) runs the prefill leg.
// Run: node --test local_pd.test.mjs   (PDSIM_CONTROLLER = the binary)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';

const CONTROLLER = process.env.PDSIM_CONTROLLER ?? 'build/controller/pdsim-controller';
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const dir = mkdtempSync(join(tmpdir(), 'pdsim-local-'));
let proc;
let client;
let status;

const YAML = `apiVersion: pdsim.io/v1alpha1
kind: PDSimulation
metadata: {name: node}
spec:
  model: ${MODEL}
  simulator: {mode: echo, interTokenLatency: 5ms}
  prefill: {simulator: {prefillTimePerToken: 2ms}}
`;

function readStatus() {
  try {
    return JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')).items[0].status;
  } catch {
    return {};
  }
}

before(async () => {
  writeFileSync(join(dir, 'sim.yaml'), YAML);
  proc = spawn(CONTROLLER, ['--local', join(dir, 'sim.yaml'), '--local-port', '0',
    '--local-status-file', join(dir, 'status.json')], { stdio: ['ignore', 'ignore', 'ignore'] });
  const deadline = Date.now() + 30000;
  while (readStatus().phase !== 'Ready') {
    assert.ok(Date.now() < deadline, 'local mode never became Ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  status = readStatus();
  client = new OpenAI({ baseURL: `http://${status.endpoint}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.kill('SIGINT');
  assert.equal(await exited, 0);
  rmSync(dir, { recursive: true, force: true });
});

async function prefillRequests() {
  const r = await fetch(`http://${status.prefillEndpoint}/metrics`);
  const m = (await r.text()).match(/^vllm:request_success_total\{[^}]*\} (\S+)$/gm) ?? [];
  return m.reduce((a, line) => a + Number(line.split(' ').pop()), 0);
}

test('streaming chat through local P/D, default prefiller', async () => {
  const before = await prefillRequests();
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Hello from P/D architecture!' }],
    stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'Hello from P/D architecture!');
  assert.ok(usage.completion_tokens > 0);
  assert.equal(await prefillRequests(), before + 1); // the prefill leg ran on the prefill role
});
