// Drives pdsim-simulator with the official OpenAI Node client, streaming and not.
// Run: node --test openai_client.test.mjs   (PDSIM_SIMULATOR = path to the binary)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSimulator, stopSimulator } from './sim_process.mjs';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
let sim;
let client;

before(async () => {
  let port;
  ({ proc: sim, port } = await startSimulator(['--http-threads', '32', '--model', MODEL,
    '--mode', 'echo', '--time-to-first-token', '20ms', '--inter-token-latency', '5ms']));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await stopSimulator(sim), 0);
});

test('chat, non-streaming', async () => {
  const r = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'This is a test.' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, 'This is a test.');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.prompt_tokens, 10);
  assert.equal(r.usage.completion_tokens, 5);
});

test('chat, streaming with usage', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'This is a test.' }], stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, 'This is a test.');
  assert.equal(finish, 'stop');
  assert.equal(usage.completion_tokens, 5);
  assert.ok(chunks >= 7);
});

test('completions, both ways', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'hello there', max_tokens: 5 });
  assert.equal(r.choices[0].text, 'hello there');
  const s = await client.completions.create({ model: MODEL, prompt: 'a b c', stream: true });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.text ?? '';
  assert.equal(text, 'a b c');
});

test('errors surface as typed API errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404,
  );
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }],
      max_tokens: -1 }),
    (e) => e instanceof OpenAI.BadRequestError && /should be positive/.test(e.message),
  );
});

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather in a city', strict: false,
    parameters: {
      type: 'object', required: ['city'],
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
    },
  },
};

test('tool calls, both ways, with the client\'s stream helper', async () => {
  const params = {
    model: MODEL, messages: [{ role: 'user', content: 'Weather in Boston?' }], tools: [WEATHER],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  };
  const r = await client.chat.completions.create(params);
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  const [call] = r.choices[0].message.tool_calls;
  assert.equal(call.function.name, 'get_weather');
  assert.match(call.id, /^chatcmpl-tool-\d{10}$/);
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
  // the client's own accumulator rebuilds the calls from the chunks
  const stream = client.beta.chat.completions.stream({ ...params, stream: true });
  const done = await stream.finalChatCompletion();
  const [sc] = done.choices[0].message.tool_calls;
  assert.equal(done.choices[0].finish_reason, 'tool_calls');
  assert.equal(sc.function.name, 'get_weather');
  assert.match(sc.id, /^chatcmpl-tool-\d{10}$/);
  assert.equal(typeof JSON.parse(sc.function.arguments).city, 'string');
  await assert.rejects(
    client.chat.completions.create({ ...params, tool_choice: { type: 'function', function: { name: 'x' } } }),
    (e) => e instanceof OpenAI.BadRequestError && /not in tools/.test(e.message),
  );
});
