// Drives pdsim-simulator's Responses API with the official OpenAI Node client:
// client.responses.create (whole and streamed), its stream accumulator
// (client.responses.stream), and a function-call round trip.
// Run: node --test responses.test.mjs   (PDSIM_SIMULATOR = path to the binary)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSimulator, stopSimulator } from './sim_process.mjs';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const WEATHER = {
  type: 'function', name: 'get_weather', description: 'Weather in a city', strict: false,
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
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

test('responses.create, whole', async () => {
  const r = await client.responses.create({
    model: MODEL, input: 'This is a test.', instructions: 'be brief',
  });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.status, 'completed');
  assert.equal(r.model, MODEL);
  assert.equal(r.instructions, 'be brief');
  assert.equal(r.output_text, 'This is a test.'); // the client's own accumulation of output
  assert.equal(r.output.length, 1);
  assert.equal(r.output[0].type, 'message');
  assert.equal(r.output[0].id, `msg_${r.id.slice(5)}`);
  assert.equal(r.usage.input_tokens, 17);
  assert.equal(r.usage.output_tokens, 5);
  assert.equal(r.usage.total_tokens, 22);
  assert.equal(r.usage.input_tokens_details.cached_tokens, 0);
});

test('responses.create, streamed', async () => {
  const stream = await client.responses.create({ model: MODEL, input: 'This is a test.', stream: true });
  const types = [];
  let text = '';
  let seq = 0;
  let completed = null;
  for await (const ev of stream) {
    types.push(ev.type);
    assert.equal(ev.sequence_number, seq++);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.deepEqual(types, ['response.created', 'response.in_progress', 'response.output_item.added',
    'response.content_part.added', ...Array(5).fill('response.output_text.delta'),
    'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
    'response.completed']);
  assert.equal(text, 'This is a test.');
  assert.equal(completed.status, 'completed');
  assert.equal(completed.output[0].content[0].text, text);
  assert.equal(completed.usage.output_tokens, 5);
});

test('responses.stream accumulates the events into the final response', async () => {
  const stream = client.responses.stream({ model: MODEL, input: 'Grüße, 東京!' });
  let deltas = '';
  stream.on('response.output_text.delta', (ev) => { deltas += ev.delta; });
  const r = await stream.finalResponse(); // the snapshot the client built from the events
  assert.equal(deltas, 'Grüße, 東京!');
  assert.equal(r.status, 'completed');
  assert.equal(r.output[0].content[0].text, 'Grüße, 東京!');
});

test('a function call, then its output', async () => {
  const r = await client.responses.create({ model: MODEL, input: 'Weather in Paris?', tools: [WEATHER] });
  assert.equal(r.output.length, 1);
  const call = r.output[0];
  assert.equal(call.type, 'function_call');
  assert.equal(call.name, 'get_weather');
  assert.equal(call.status, 'completed');
  assert.match(call.id, /^fc_\d{10}$/);
  assert.equal(call.call_id, `call_${call.id.slice(3)}`);
  assert.equal(typeof JSON.parse(call.arguments).city, 'string');
  assert.equal(r.output_text, '');

  // streamed, through the accumulator: argument deltas land on the call's output item
  const stream = client.responses.stream({ model: MODEL, input: 'Weather in Paris?', tools: [WEATHER] });
  let args = '';
  stream.on('response.function_call_arguments.delta', (ev) => { args += ev.delta; });
  const streamed = await stream.finalResponse();
  assert.equal(streamed.output[0].type, 'function_call');
  assert.equal(streamed.output[0].arguments, args);
  assert.equal(typeof JSON.parse(args).city, 'string');

  // the tool's result goes back: the model answers with text (echo: the result)
  const next = await client.responses.create({
    model: MODEL, tools: [WEATHER],
    input: [{ role: 'user', content: 'Weather in Paris?' }, call,
      { type: 'function_call_output', call_id: call.call_id, output: 'sunny, 22C' }],
  });
  assert.equal(next.output[0].type, 'message');
  assert.equal(next.output_text, 'sunny, 22C');
});

test('errors surface as the client\'s typed errors', async () => {
  await assert.rejects(client.responses.create({ model: 'nope', input: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
  await assert.rejects(client.responses.create({ model: MODEL, input: 'x', max_output_tokens: 0 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'max_output_tokens');
});
