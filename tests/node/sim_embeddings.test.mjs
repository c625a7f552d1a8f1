// /v1/embeddings through the official OpenAI Node client, which asks for base64 unless
// told otherwise and decodes it: both encodings must give the same float32 values.
// Run: node --test sim_embeddings.test.mjs   (PDSIM_SIMULATOR = path to the binary)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSimulator, stopSimulator } from './sim_process.mjs';

const MODEL = 'text-embedding-3-small';
let sim;
let client;

before(async () => {
  let port;
  ({ proc: sim, port } = await startSimulator(['--http-threads', '16', '--model', MODEL]));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await stopSimulator(sim), 0);
});

test('the client default (base64) decodes to the float encoding', async () => {
  const input = ['This is a test.', 'Give a man a fish'];
  const b64 = await client.embeddings.create({ model: MODEL, input, dimensions: 32 });
  const flt = await client.embeddings.create({ model: MODEL, input, dimensions: 32,
    encoding_format: 'float' });
  assert.equal(b64.object, 'list');
  assert.equal(b64.model, MODEL);
  assert.equal(b64.data.length, 2);
  assert.deepEqual(b64.usage, flt.usage);
  for (let i = 0; i < 2; i++) {
    assert.equal(b64.data[i].index, i);
    assert.equal(b64.data[i].embedding.length, 32);
    assert.deepEqual(b64.data[i].embedding, flt.data[i].embedding.map(Math.fround));
  }
});

test('default dimensions and token input', async () => {
  const r = await client.embeddings.create({ model: MODEL, input: [1, 2, 3],
    encoding_format: 'float' });
  assert.equal(r.data[0].embedding.length, 384);
  assert.equal(Math.fround(r.data[0].embedding[0]), 2 / 1024 - 1); // float32, shortest digits
  assert.equal(r.usage.prompt_tokens, 3);
});

test('errors are OpenAI errors', async () => {
  await assert.rejects(client.embeddings.create({ model: MODEL, input: '' }),
    (e) => e.status === 400 && /empty string/.test(e.message));
  await assert.rejects(client.embeddings.create({ model: 'nope', input: 'x' }),
    (e) => e.status === 404);
});
