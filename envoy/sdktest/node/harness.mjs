// Runs a real `proxide dev` (the sidecar, the Envoy stand-in as its front,
// the fake OpenAI upstream) for the SDK tests, and reads what the fake sent,
// what reached the front and what the client was charged.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

// startDev builds proxide unless PROXIDE_BIN names one, starts it on free
// loopback ports and resolves with its ready file (base_url, key, …) and stop().
export async function startDev() {
  const dir = mkdtempSync(join(tmpdir(), 'proxide-sdktest-node-'));
  let bin = process.env.PROXIDE_BIN;
  if (!bin) {
    bin = join(dir, 'proxide');
    execFileSync('go', ['build', '-o', bin, './cmd/proxide'], { cwd: repoRoot, stdio: 'inherit' });
  }
  const readyFile = join(dir, 'ready.json');
  const child = spawn(bin, ['dev', '--listen', '127.0.0.1:0', '--grpc-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0',
    '--ready-file', readyFile], {
    // Ledger calls get headroom on a busy CI machine.
    env: { ...process.env, PROXIDE_STORE_TIMEOUT: '1500ms' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stdout.on('data', (b) => { logs += b; });
  child.stderr.on('data', (b) => { logs += b; });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  const stop = async () => {
    if (exited === null) {
      const done = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 6000; i++) { // 2 minutes at most
    if (exited !== null) {
      throw new Error(`proxide dev exited (${exited}) before it was ready:\n${logs}`);
    }
    try {
      const ready = JSON.parse(readFileSync(readyFile, 'utf8'));
      return { ...ready, stop, logs: () => logs };
    } catch {
      await sleep(20);
    }
  }
  await stop();
  throw new Error(`proxide dev was not ready after 2 minutes:\n${logs}`);
}

async function getJSON(url, key) {
  const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`${url}: ${res.status} ${text}`);
  }
  return JSON.parse(text);
}

// sent is what the fake upstream sent for the response with this x-request-id.
export function sent(dev, requestID) {
  if (!requestID) {
    throw new Error('no x-request-id reached the SDK');
  }
  return getJSON(`${dev.fake_url}/_fake/sent/${requestID}`);
}

// spentNano is the client's spend today, in nano-dollars, as the admin API
// reports it; nothing may stay reserved.
export async function spentNano(dev, clientID) {
  const v = await getJSON(`${dev.admin}/v1/clients/${encodeURIComponent(clientID)}`, dev.key);
  if (v.today.reserved_usd !== 0) {
    throw new Error(`${clientID} still has $${v.today.reserved_usd} reserved`);
  }
  return Math.round(v.today.spent_usd * 1e9);
}

// frontRequests is how many HTTP requests reached the front.
export async function frontRequests(dev) {
  return (await getJSON(`${dev.front}/_dev/stats`)).requests;
}

export async function setBudget(dev, rule) {
  const res = await fetch(`${dev.admin}/v1/budgets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${dev.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(rule),
  });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`POST /v1/budgets: ${res.status} ${await res.text()}`);
  }
}

// sseData splits an SSE body into its JSON data payloads, without [DONE].
export function sseData(body) {
  return body.split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice('data: '.length)));
}

// Hand-written prices (nano-dollars per token) from the 2026-07-24 LiteLLM
// snapshot of the dated models the fake reports: input, output.
const handPrices = {
  'gpt-4o-mini-2024-07-18': [150, 600],
  'gpt-4o-2024-08-06': [2500, 10000],
  'text-embedding-3-small': [20, 0],
  'gpt-3.5-turbo-instruct': [1500, 2000],
};

export function handCost(model, prompt, completion) {
  const p = handPrices[model];
  if (!p) {
    throw new Error(`no hand price for ${model}`);
  }
  return prompt * p[0] + completion * p[1];
}

// fakePrompt is the fake's documented prompt count: bytes of prompt text plus
// the compact JSON of the function tool definitions, / 4, + 7.
export function fakePrompt(text, toolBytes = 0) {
  return Math.floor((Buffer.byteLength(text) + toolBytes) / 4) + 7;
}

// toolDefinitionBytes is what the fake bills for a request's function tools.
export function toolDefinitionBytes(request) {
  return (request.tools ?? [])
    .filter((t) => t.type === 'function' || t.type === 'custom')
    .reduce((n, t) => n + Buffer.byteLength(JSON.stringify(t)), 0);
}

export function usageOf(obj) {
  const u = obj.usage ?? {};
  return [(u.prompt_tokens ?? 0) + (u.input_tokens ?? 0), (u.completion_tokens ?? 0) + (u.output_tokens ?? 0)];
}
