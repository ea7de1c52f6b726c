// A stand-in for HelseID's token service in Respons's tests (docs/epj.md, "HelseID"):
// oidc-provider (MIT, from the npm registry, an OpenID Certified provider) with one client
// that authenticates by a signed JWT client assertion (private_key_jwt) and may use the
// client credentials grant. Its access tokens are JWTs for one audience, the EPJ's FHIR base,
// which server.mjs --issuer checks as an EPJ behind HelseID would.
//
//   node token-server.mjs --port 8098 --client-id respons-test --jwks client-public.json \
//        --audience http://127.0.0.1:8099/fhir [--ttl 300]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({ options: {
  port: { type: 'string', default: '8098' }, host: { type: 'string', default: '127.0.0.1' },
  'client-id': { type: 'string' }, jwks: { type: 'string' }, audience: { type: 'string' },
  scope: { type: 'string', default: 'vkp/epj' }, ttl: { type: 'string', default: '300' } } });

const issuer = `http://${args.host}:${args.port}`;
const resource = { scope: args.scope, audience: args.audience, accessTokenFormat: 'jwt', accessTokenTTL: Number(args.ttl),
                   jwt: { sign: { alg: 'RS256' } } };
const provider = new Provider(issuer, {
  clients: [{ client_id: args['client-id'], token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'],
              response_types: [], redirect_uris: [], scope: args.scope, jwks: JSON.parse(readFileSync(args.jwks, 'utf8')) }],
  scopes: [args.scope],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: { enabled: true, defaultResource: () => args.audience, useGrantedResource: () => true,
                          getResourceServerInfo: () => resource },
  },
});
provider.listen(Number(args.port), args.host);
console.log(`token service on ${issuer}/token for ${args.audience}`);
