// The official OpenAI Node SDK, 6.x (the line Node 20 gets) and 7.x (the
// current one), driven through a real `proxide dev`, unchanged apart from
// its base URL, key and the client-id header. Each call must come back
// exactly as the fake upstream sent it and be charged its hand-computed
// cost; a 402 and a loop's 429 must surface at once as the SDK's APIError,
// read the way an application's try/catch reads it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI6 from 'openai6';
import OpenAI7 from 'openai7';
import {
  startDev, sent, spentNano, frontRequests, setBudget, sseData, handCost, fakePrompt, toolDefinitionBytes, usageOf,
} from './harness.mjs';

const installed = (alias) => JSON.parse(readFileSync(new URL(`node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;
const versions = [
  ['openai6', OpenAI6, installed('openai6')],
  ['openai7', OpenAI7, installed('openai7')],
];

let dev;
before(async () => { dev = await startDev(); });
after(async () => { await dev?.stop(); });

for (const [name, OpenAI, version] of versions) {
  describe(`openai ${version} (${name})`, () => {
    const client = (id) => new OpenAI({ apiKey: dev.key, baseURL: dev.base_url, defaultHeaders: { [dev.client_id_header]: id } });
    const id = (what) => `sdk-node-${name}-${what}`;

    // charged: the fake's prompt is the documented formula and the client
    // was charged exactly the hand-computed cost of the usage the fake sent.
    async function charged(clientID, model, usageCarrier, promptText, toolBytes = 0) {
      const [prompt, completion] = usageOf(usageCarrier);
      assert.equal(prompt, fakePrompt(promptText, toolBytes), 'prompt tokens: (text + tool definitions)/4 + 7');
      assert.equal(await spentNano(dev, clientID), handCost(model, prompt, completion), 'charged to the nano-dollar');
    }

    const chatCases = [
      ['plain', { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }] },
        'Be brief.Hello there', (c) => assert.equal(c.choices[0].finish_reason, 'stop')],
      ['tool calling', {
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
        tools: [{
          type: 'function',
          function: { name: 'get_weather', description: 'The weather in a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
        }],
      }, 'What is the weather in Paris?', (c) => {
        assert.equal(c.choices[0].finish_reason, 'tool_calls');
        assert.equal(c.choices[0].message.tool_calls[0].function.name, 'get_weather');
        JSON.parse(c.choices[0].message.tool_calls[0].function.arguments);
      }],
      ['JSON mode', { model: 'gpt-4o-mini', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'Give me JSON' }] },
        'Give me JSON', (c) => JSON.parse(c.choices[0].message.content)],
    ];
    for (const [what, params, text, check] of chatCases) {
      test(`chat: ${what}`, async () => {
        const clientID = id(`chat-${what.replace(' ', '-')}`);
        const { data, response } = await client(clientID).chat.completions.create(params).withResponse();
        const s = await sent(dev, response.headers.get('x-request-id'));
        assert.deepEqual(data, JSON.parse(s.body), 'the SDK got exactly what the upstream sent');
        check(data);
        const toolBytes = toolDefinitionBytes(s.request);
        if (what === 'tool calling') {
          assert.ok(toolBytes > 0, 'the tool definition is billed');
        }
        await charged(clientID, data.model, data, text, toolBytes);
      });
    }

    for (const includeUsage of [false, true]) {
      test(`chat: streaming, include_usage ${includeUsage}`, async () => {
        const clientID = id(`stream-${includeUsage}`);
        const params = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Stream please' }] };
        if (includeUsage) {
          params.stream_options = { include_usage: true };
        }
        const { data: stream, response } = await client(clientID).chat.completions.create(params).withResponse();
        const got = [];
        for await (const chunk of stream) {
          got.push(chunk);
        }
        const s = await sent(dev, response.headers.get('x-request-id'));
        assert.equal(s.request.stream_options.include_usage, true, 'the upstream is always asked for usage');
        const upstream = sseData(s.body);
        const last = upstream.at(-1);
        assert.deepEqual(last.choices, [], "the fake's last chunk carries the usage");
        if (includeUsage) {
          assert.deepEqual(got, upstream, 'every chunk exactly as sent');
        } else {
          assert.equal(got.length, upstream.length - 1, 'the usage chunk Proxide asked for does not reach the SDK');
          got.forEach((chunk, i) => {
            assert.ok(!('usage' in chunk), `chunk ${i} has no usage field`);
            const { usage, ...rest } = upstream[i];
            assert.equal(usage, null);
            assert.deepEqual(chunk, rest, `chunk ${i}: as sent, without the "usage":null the upstream added`);
          });
        }
        await charged(clientID, 'gpt-4o-mini-2024-07-18', last, 'Stream please');
      });
    }

    test('responses: plain', async () => {
      const clientID = id('responses');
      const { data, response } = await client(clientID).responses.create({ model: 'gpt-4o', input: 'Write a haiku' }).withResponse();
      const s = await sent(dev, response.headers.get('x-request-id'));
      const { output_text: outputText, ...rest } = data; // the SDK adds output_text
      assert.deepEqual(rest, JSON.parse(s.body));
      assert.ok(outputText.length > 0);
      await charged(clientID, data.model, data, 'Write a haiku');
    });

    test('responses: streaming', async () => {
      const clientID = id('responses-stream');
      const { data: stream, response } = await client(clientID).responses
        .create({ model: 'gpt-4o-mini', input: 'Write a haiku', stream: true }).withResponse();
      const got = [];
      for await (const ev of stream) {
        got.push(ev);
      }
      const s = await sent(dev, response.headers.get('x-request-id'));
      assert.deepEqual(got, sseData(s.body), 'every event exactly as sent');
      const completed = got.find((e) => e.type === 'response.completed');
      await charged(clientID, 'gpt-4o-mini-2024-07-18', completed.response, 'Write a haiku');
    });

    test('embeddings', async () => {
      const clientID = id('embeddings');
      const input = ['one', 'two', 'three'];
      const { data, response } = await client(clientID).embeddings.create({ model: 'text-embedding-3-small', input }).withResponse();
      const s = await sent(dev, response.headers.get('x-request-id'));
      const body = JSON.parse(s.body);
      // The SDK may ask for base64 and decode it to floats: compare the values.
      const floats = (e) => (typeof e === 'string' ? Array.from(new Float32Array(new Uint8Array(Buffer.from(e, 'base64')).buffer)) : e);
      assert.deepEqual({ ...data, data: data.data.map((d) => ({ ...d, embedding: floats(d.embedding) })) },
        { ...body, data: body.data.map((d) => ({ ...d, embedding: floats(d.embedding) })) });
      assert.equal(data.data.length, 3);
      await charged(clientID, data.model, data, input.join(''));
    });

    test('legacy completions', async () => {
      const clientID = id('completions');
      const { data, response } = await client(clientID).completions
        .create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say this is a test' }).withResponse();
      const s = await sent(dev, response.headers.get('x-request-id'));
      assert.deepEqual(data, JSON.parse(s.body));
      await charged(clientID, data.model, data, 'Say this is a test');
    });

    test('over budget: 402 budget_exceeded, no retry', async () => {
      const clientID = id('402');
      await setBudget(dev, { client_id: clientID, daily_limit_usd: 0.000001 });
      const c = client(clientID);
      await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'first: admitted' }] });
      const before = await frontRequests(dev);
      let caught;
      try {
        await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'second: refused' }] });
      } catch (e) {
        caught = e;
      }
      // As an application's try/catch reads it.
      assert.ok(caught instanceof OpenAI.APIError, String(caught));
      assert.equal(caught.status, 402);
      assert.equal(caught.error.type, 'budget_exceeded');
      assert.equal(caught.type, 'budget_exceeded');
      assert.equal(caught.code, 'budget_exceeded');
      assert.equal(caught.error.client_id, clientID);
      assert.equal(caught.error.limit_type, 'daily');
      assert.match(caught.message, /Daily budget limit of \$0\.00 exceeded/);
      assert.equal(await frontRequests(dev), before + 1, 'one request reached the front: no retry');
    });

    test('looping agent: 429 loop_detected at once, no retry', async () => {
      const c = client(id('loop'));
      const params = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Call the weather tool again' }] };
      for (let i = 0; i < 5; i++) {
        await c.chat.completions.create(params);
      }
      const before = await frontRequests(dev);
      let caught;
      try {
        await c.chat.completions.create(params);
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof OpenAI.RateLimitError, String(caught));
      assert.equal(caught.status, 429);
      assert.equal(caught.error.type, 'loop_detected');
      assert.ok(Number(caught.headers.get('retry-after')) > 0, 'a retry-after the SDK would have slept on');
      assert.equal(caught.headers.get('x-should-retry'), 'false');
      assert.equal(await frontRequests(dev), before + 1, 'one request reached the front: the SDK did not sleep and retry');
    });
  });
}
