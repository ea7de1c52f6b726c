// A local SMS centre for Respons's tests and demo: an SMPP 3.4 server (node-smpp, server side)
// and, in the same process, an HTTP SMS API of the usual aggregator shape, both journalling
// what they accept to one JSON-lines file, plus an HTTP control API the tests drive it through.
// Nothing here reaches a real SMS network: a message "delivered" here is a line in the journal.
//
//   node smsc.mjs --port 2775 --control 2780 --system-id respons --password secret \
//                 --journal var/demo-smsc.jsonl [--receipt-delay-ms 200] [--http-token TOKEN]
//
// Both servers listen on 127.0.0.1 only. The SMPP side accepts one system_id and password
// (bind_transceiver, bind_transmitter or bind_receiver), answers submit_sm with a message id
// and sends delivery receipts (SMPP 3.4 Appendix B) to a bound transceiver or receiver,
// keeping them until one is bound. Texts are decoded here, not by node-smpp: its message
// filter is replaced by one that keeps the raw octets, and the GSM 03.38 tables below decode
// them (node-smpp 0.5.1 has no option to leave short_message undecoded).
//
// Control API (JSON): GET /control/messages, GET /control/sessions, POST /control/reset,
// /control/throttle {"count"}, /control/reject {"destination","status"},
// /control/undeliverable {"destination"}, /control/mo {"source","destination","text"},
// /control/http-mo {"from","to","text","url","token"}, /control/disconnect.
// HTTP SMS API: POST /sms/v1/messages with a bearer token (see handleHttpSend).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import smpp from 'smpp';

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArguments(argv) {
  const options = {receiptDelayMs: 200, httpToken: 'local-http-token'};
  const names = {
    '--port': 'port', '--control': 'control', '--system-id': 'systemId', '--password': 'password',
    '--journal': 'journal', '--receipt-delay-ms': 'receiptDelayMs', '--http-token': 'httpToken',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || argv[i + 1] === undefined) {
      throw new Error(`unknown or incomplete argument: ${argv[i]}`);
    }
    options[key] = argv[i + 1];
  }
  for (const required of ['port', 'control', 'systemId', 'password', 'journal']) {
    if (options[required] === undefined) {
      throw new Error(`missing argument for ${required}`);
    }
  }
  options.port = Number(options.port);
  options.control = Number(options.control);
  options.receiptDelayMs = Number(options.receiptDelayMs);
  return options;
}

const options = parseArguments(process.argv.slice(2));
const HOST = '127.0.0.1';
const SMSC_SYSTEM_ID = 'LOCALSMSC';

function log(line) {
  console.log(`${new Date().toISOString()} ${line}`);
}

// ---------------------------------------------------------------------------------------------
// GSM 03.38 (3GPP TS 23.038 §6.2.1): the default alphabet, one septet per octet as SMPP
// carries it (data_coding 0), and the extension table behind the escape 0x1B.

const GSM_DEFAULT =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = {
  0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€',
};
const ESCAPE = 0x1b;
const GSM_ENCODE = new Map();
for (let i = 0; i < GSM_DEFAULT.length; i++) {
  if (i !== ESCAPE) {
    GSM_ENCODE.set(GSM_DEFAULT[i], [i]);
  }
}
for (const [code, char] of Object.entries(GSM_EXTENSION)) {
  GSM_ENCODE.set(char, [ESCAPE, Number(code)]);
}
if (GSM_DEFAULT.length !== 128) {
  throw new Error('the GSM default alphabet must have 128 characters');
}

function gsmDecode(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    const septet = bytes[i];
    if (septet > 0x7f) {
      text += '\ufffd';
    } else if (septet === ESCAPE) {
      const next = bytes[i + 1];
      if (next === undefined) {
        text += ' '; // an escape with nothing after it: TS 23.038 shows a space
      } else {
        // An escape before a code the extension table does not hold shows the default
        // alphabet's character (TS 23.038 §6.2.1.1).
        text += GSM_EXTENSION[next] ?? (next > 0x7f ? '\ufffd' : GSM_DEFAULT[next]);
        i++;
      }
    } else {
      text += GSM_DEFAULT[septet];
    }
  }
  return text;
}

function isGsm(text) {
  for (const char of text) {
    if (!GSM_ENCODE.has(char)) {
      return false;
    }
  }
  return true;
}

function gsmEncode(text) {
  const octets = [];
  for (const char of text) {
    octets.push(...(GSM_ENCODE.get(char) ?? GSM_ENCODE.get('?')));
  }
  return Buffer.from(octets);
}

function ucs2Encode(text) {
  const buffer = Buffer.from(text, 'utf16le');
  return buffer.swap16();
}

function ucs2Decode(bytes) {
  const even = Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)));
  return even.swap16().toString('utf16le');
}

// The text of one segment by its data_coding (SMPP 3.4 §5.2.19), or null for binary data.
function decodeText(bytes, dataCoding) {
  switch (dataCoding) {
    case 0x00:
    case 0xf0: case 0xf1: case 0xf2: case 0xf3: // message class group, GSM default alphabet
      return gsmDecode(bytes);
    case 0x01:
      return bytes.toString('ascii');
    case 0x03:
      return bytes.toString('latin1');
    case 0x08:
      return ucs2Decode(bytes);
    default:
      return null;
  }
}

// How many SMS a text takes: 160 septets (an extension character counts two) or 70 UCS-2
// units in one; else parts of 153 septets or 67 units, never splitting an escape pair or a
// surrogate pair.
function partsNeeded(text) {
  const gsm = isGsm(text);
  const units = [];
  for (const char of text) {
    units.push(gsm ? GSM_ENCODE.get(char).length : char.length);
  }
  const total = units.reduce((a, b) => a + b, 0);
  const [single, part] = gsm ? [160, 153] : [70, 67];
  if (total <= single) {
    return 1;
  }
  let parts = 1;
  let used = 0;
  for (const size of units) {
    if (used + size > part) {
      parts++;
      used = 0;
    }
    used += size;
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// node-smpp decodes short_message and message_payload into {udh, message: string} by
// data_coding (lossily: characters it does not know become spaces). Keep the octets instead.

smpp.filters.message.decode = function keepOctets(value) {
  return value;
};

// The concatenation information element (TS 23.040 §9.2.3.24.1/.8) of a user data header.
function parseUdh(bytes) {
  if (bytes.length < 1 || bytes[0] + 1 > bytes.length) {
    return {udh: null, length: 0};
  }
  const length = bytes[0] + 1;
  let udh = null;
  let i = 1;
  while (i + 1 < length) {
    const iei = bytes[i];
    const ieLength = bytes[i + 1];
    const data = bytes.subarray(i + 2, i + 2 + ieLength);
    if (iei === 0x00 && ieLength === 3) {
      udh = {ref: data[0], total: data[1], seq: data[2]};
    } else if (iei === 0x08 && ieLength === 4) {
      udh = {ref: data.readUInt16BE(0), total: data[2], seq: data[3]};
    }
    i += 2 + ieLength;
  }
  return {udh, length};
}

// ---------------------------------------------------------------------------------------------
// State: the journal and what the control API set.

const state = {
  messages: [],
  byReference: new Map(), // HTTP API reference -> record
  nextId: 1,
  throttle: 0,
  reject: new Map(), // destination digits -> command_status
  undeliverable: new Set(), // destination digits
  receipts: [], // receipts waiting for a receiving session
  generation: 0, // bumped by reset: timers from before it do nothing
};

function digits(address) {
  let value = String(address ?? '').replace(/\D/g, '');
  if (value.startsWith('00')) {
    value = value.slice(2);
  }
  return value;
}

function remember(record) {
  state.messages.push(record);
  if (record.via === 'http' && record.reference) {
    state.byReference.set(record.reference, record);
  }
  const numeric = Number.parseInt(record.message_id, 10);
  if (Number.isFinite(numeric) && numeric >= state.nextId) {
    state.nextId = numeric + 1;
  }
}

function loadJournal() {
  if (!fs.existsSync(options.journal)) {
    fs.mkdirSync(path.dirname(path.resolve(options.journal)), {recursive: true});
    return;
  }
  for (const line of fs.readFileSync(options.journal, 'utf8').split('\n')) {
    if (line.trim()) {
      try {
        remember(JSON.parse(line));
      } catch {
        log(`journal: skipped a line that is not JSON: ${line.slice(0, 80)}`);
      }
    }
  }
  log(`journal: ${state.messages.length} messages from ${options.journal}`);
}

function store(record) {
  // Written before the answer goes out: a message the SMSC acknowledged is in the journal.
  fs.appendFileSync(options.journal, JSON.stringify(record) + '\n');
  remember(record);
}

function newId() {
  return String(state.nextId++);
}

function addressType(address) {
  if (address.startsWith('+')) {
    return {ton: 1, npi: 1}; // international, ISDN (E.164)
  }
  if (/^\d+$/.test(address)) {
    return {ton: 0, npi: 1};
  }
  return {ton: 5, npi: 0}; // alphanumeric
}

// ---------------------------------------------------------------------------------------------
// SMPP sessions

const sessions = new Set();
let sessionCounter = 0;
const RECEIVING = new Set(['transceiver', 'receiver']);
const TRANSMITTING = new Set(['transceiver', 'transmitter']);
const BINDS = {bind_transceiver: 'transceiver', bind_transmitter: 'transmitter', bind_receiver: 'receiver'};

function receivingSessions() {
  return [...sessions].filter(s => RECEIVING.has(s.mode) && s.systemId === options.systemId && !s.closed);
}

function boundSessions() {
  return [...sessions].filter(s => s.mode && !s.closed);
}

function timestamp(date) {
  const two = n => String(n).padStart(2, '0');
  return `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}` +
    `${two(date.getUTCHours())}${two(date.getUTCMinutes())}`;
}

function receiptFor(record) {
  const failed = state.undeliverable.has(digits(record.destination));
  const done = new Date();
  const text = [...(record.text ?? '')].slice(0, 20).join('');
  const body = `id:${record.message_id} sub:001 dlvrd:${failed ? '000' : '001'} ` +
    `submit date:${timestamp(new Date(record.received_at))} done date:${timestamp(done)} ` +
    `stat:${failed ? 'UNDELIV' : 'DELIVRD'} err:${failed ? '001' : '000'} text:${text}`;
  return {
    message_id: record.message_id,
    stat: failed ? 'UNDELIV' : 'DELIVRD',
    pdu: {
      source_addr_ton: record.dest_addr_ton, source_addr_npi: record.dest_addr_npi,
      source_addr: record.destination,
      dest_addr_ton: record.source_addr_ton, dest_addr_npi: record.source_addr_npi,
      destination_addr: record.source,
      esm_class: 0x04, data_coding: 0x00, short_message: gsmEncode(body),
      receipted_message_id: record.message_id, message_state: failed ? 5 : 2,
    },
  };
}

// Send what waits to the first receiving session; a receipt that the session does not
// acknowledge (it closes, or answers with an error) waits again.
function flushReceipts() {
  const generation = state.generation;
  while (state.receipts.length) {
    const session = receivingSessions()[0];
    if (!session) {
      return;
    }
    const receipt = state.receipts.shift();
    const sent = session.smpp.deliver_sm({...receipt.pdu}, response => {
      session.inflight.delete(receipt);
      if (generation !== state.generation) {
        return;
      }
      if (response.command_status === 0) {
        log(`receipt delivered id=${receipt.message_id} stat=${receipt.stat} session=${session.id}`);
      } else {
        log(`receipt refused id=${receipt.message_id} status=0x${response.command_status.toString(16)}; ` +
            'trying again in 1 s');
        setTimeout(() => requeue(receipt, generation), 1000);
      }
    });
    if (sent) {
      session.inflight.add(receipt);
      log(`receipt sent id=${receipt.message_id} stat=${receipt.stat} session=${session.id}`);
    } else {
      state.receipts.unshift(receipt);
      return;
    }
  }
}

function requeue(receipt, generation) {
  if (generation === state.generation) {
    state.receipts.push(receipt);
    flushReceipts();
  }
}

function scheduleReceipt(record) {
  const mode = record.registered_delivery & 0x03;
  const failed = state.undeliverable.has(digits(record.destination));
  if (!(mode === 1 || (mode === 2 && failed))) {
    return;
  }
  const generation = state.generation;
  setTimeout(() => {
    if (generation !== state.generation) {
      return;
    }
    const receipt = receiptFor(record);
    state.receipts.push(receipt);
    if (!receivingSessions().length) {
      log(`receipt queued id=${record.message_id} stat=${receipt.stat}: no receiving session bound`);
    }
    flushReceipts();
  }, options.receiptDelayMs);
}

function handleSubmit(session, pdu) {
  if (!TRANSMITTING.has(session.mode)) {
    session.smpp.send(pdu.response({command_status: smpp.ESME_RINVBNDSTS}));
    return;
  }
  if (state.throttle > 0) {
    state.throttle--;
    log(`submit throttled to=${pdu.destination_addr} (${state.throttle} more to throttle)`);
    session.smpp.send(pdu.response({command_status: smpp.ESME_RTHROTTLED}));
    return;
  }
  const rejected = state.reject.get(digits(pdu.destination_addr));
  if (rejected !== undefined) {
    log(`submit rejected to=${pdu.destination_addr} status=0x${rejected.toString(16)}`);
    session.smpp.send(pdu.response({command_status: rejected}));
    return;
  }
  const fromPayload = (!pdu.short_message || pdu.short_message.length === 0) && Buffer.isBuffer(pdu.message_payload);
  const raw = Buffer.from(fromPayload ? pdu.message_payload : (pdu.short_message ?? Buffer.alloc(0)));
  let udh = null;
  let body = raw;
  if (pdu.esm_class & 0x40) {
    const parsed = parseUdh(raw);
    udh = parsed.udh;
    body = raw.subarray(parsed.length);
  }
  const sar = pdu.sar_msg_ref_num !== undefined
    ? {ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments ?? null, seq: pdu.sar_segment_seqnum ?? null}
    : null;
  const record = {
    message_id: newId(),
    via: 'smpp',
    system_id: session.systemId,
    source: pdu.source_addr,
    source_addr_ton: pdu.source_addr_ton,
    source_addr_npi: pdu.source_addr_npi,
    destination: pdu.destination_addr,
    dest_addr_ton: pdu.dest_addr_ton,
    dest_addr_npi: pdu.dest_addr_npi,
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    payload: fromPayload ? 'message_payload' : 'short_message',
    short_message_hex: raw.toString('hex'),
    udh,
    sar,
    text: decodeText(body, pdu.data_coding),
    received_at: new Date().toISOString(),
  };
  store(record);
  session.smpp.send(pdu.response({message_id: record.message_id}));
  const part = udh ? ` part=${udh.seq}/${udh.total} ref=${udh.ref}` : '';
  log(`submit id=${record.message_id} from=${record.source} to=${record.destination} dc=${record.data_coding}` +
      `${part} rd=${record.registered_delivery} text=${JSON.stringify(record.text)}`);
  scheduleReceipt(record);
}

function handleBind(session, pdu) {
  if (session.mode) {
    session.smpp.send(pdu.response({command_status: smpp.ESME_RALYBND}));
    return;
  }
  let refusal = null;
  if (pdu.system_id !== options.systemId) {
    refusal = smpp.ESME_RBINDFAIL;
  } else if (pdu.password !== options.password) {
    refusal = smpp.ESME_RINVPASWD;
  }
  if (refusal !== null) {
    log(`bind refused session=${session.id} system_id=${JSON.stringify(pdu.system_id)} ` +
        `status=0x${refusal.toString(16)}`);
    session.smpp.send(pdu.response({command_status: refusal}), () => session.smpp.close());
    return;
  }
  session.mode = BINDS[pdu.command];
  session.systemId = pdu.system_id;
  session.smpp.send(pdu.response({system_id: SMSC_SYSTEM_ID}));
  log(`bound session=${session.id} as ${session.mode} system_id=${session.systemId}`);
  flushReceipts();
}

const server = smpp.createServer(connection => {
  const session = {id: ++sessionCounter, smpp: connection, mode: null, systemId: null, inflight: new Set(), closed: false};
  sessions.add(session);
  log(`connected session=${session.id}`);
  connection.on('pdu', pdu => {
    if (pdu.isResponse()) {
      return; // answers to our deliver_sm arrive through their callbacks
    }
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver':
        handleBind(session, pdu);
        break;
      case 'enquire_link':
        connection.send(pdu.response());
        break;
      case 'unbind':
        session.mode = null;
        connection.send(pdu.response(), () => connection.close());
        log(`unbound session=${session.id}`);
        break;
      case 'submit_sm':
        handleSubmit(session, pdu);
        break;
      case 'unknown':
        connection.send(pdu.response()); // generic_nack, ESME_RINVCMDID
        break;
      default:
        connection.send(pdu.response({command_status: smpp.ESME_RINVCMDID}));
    }
  });
  connection.on('error', error => {
    log(`session=${session.id} error: ${error.message}`);
    connection.destroy();
  });
  connection.on('close', () => {
    session.closed = true;
    session.mode = null;
    sessions.delete(session);
    for (const receipt of session.inflight) {
      state.receipts.push(receipt); // sent, never acknowledged: it waits for the next session
    }
    session.inflight.clear();
    log(`closed session=${session.id}`);
  });
});

// ---------------------------------------------------------------------------------------------
// HTTP: the control API and the HTTP SMS API

function answer(response, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, {'content-type': 'application/json', ...headers});
  response.end(text);
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on('data', chunk => {
      size += chunk.length;
      if (size > 1024 * 1024) {
        reject(new Error('body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

async function readJson(request) {
  const text = await readBody(request);
  if (!text.trim()) {
    return {};
  }
  const value = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('the body must be a JSON object');
  }
  return value;
}

async function post(url, body, token) {
  const headers = {'content-type': 'application/json'};
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  const response = await fetch(url, {method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5000)});
  return {status: response.status, body: await response.text()};
}

function sendMo(source, destination, text) {
  const gsm = isGsm(text);
  const octets = gsm ? gsmEncode(text) : ucs2Encode(text);
  const from = addressType(source);
  const to = addressType(destination);
  const pdu = {
    source_addr_ton: from.ton, source_addr_npi: from.npi, source_addr: source,
    dest_addr_ton: to.ton, dest_addr_npi: to.npi, destination_addr: destination,
    esm_class: 0x00, data_coding: gsm ? 0x00 : 0x08,
    ...(octets.length > 254 ? {short_message: Buffer.alloc(0), message_payload: octets} : {short_message: octets}),
  };
  const targets = receivingSessions();
  const answers = targets.map(session => new Promise(resolve => {
    const timer = setTimeout(() => resolve(null), 5000);
    const sent = session.smpp.deliver_sm({...pdu}, response => {
      clearTimeout(timer);
      resolve(response.command_status);
    });
    if (!sent) {
      clearTimeout(timer);
      resolve(null);
    }
  }));
  log(`mo from=${source} to=${destination} dc=${pdu.data_coding} sessions=${targets.length} text=${JSON.stringify(text)}`);
  return Promise.all(answers);
}

function scheduleCallback(record, url, token) {
  const generation = state.generation;
  const failed = state.undeliverable.has(digits(record.destination));
  let attempt = 0;
  const attemptCallback = async () => {
    if (generation !== state.generation) {
      return;
    }
    const body = {
      id: record.message_id, reference: record.reference, status: failed ? 'failed' : 'delivered',
      error: failed ? 'undeliverable' : null, at: new Date().toISOString(),
    };
    let outcome;
    try {
      const result = await post(url, body, token);
      outcome = result.status;
      if (result.status >= 200 && result.status < 300) {
        log(`callback id=${record.message_id} status=${body.status} answered ${result.status}`);
        return;
      }
    } catch (error) {
      outcome = error.cause?.code ?? error.message;
    }
    attempt++;
    if (attempt > 30) {
      log(`callback id=${record.message_id} given up after ${attempt} attempts (${outcome})`);
      return;
    }
    log(`callback id=${record.message_id} failed (${outcome}); again in 1 s`);
    setTimeout(attemptCallback, 1000);
  };
  setTimeout(attemptCallback, options.receiptDelayMs);
}

async function handleHttpSend(request, response) {
  if (request.headers.authorization !== `Bearer ${options.httpToken}`) {
    answer(response, 401, {error: 'missing or wrong bearer token'});
    return;
  }
  let body;
  try {
    body = await readJson(request);
  } catch (error) {
    answer(response, 400, {error: `malformed body: ${error.message}`});
    return;
  }
  const {to, from, text, reference} = body;
  const problems = [];
  if (typeof to !== 'string' || !/^\+\d{8,15}$/.test(to)) {
    problems.push('"to" must be "+" and 8 to 15 digits');
  }
  if (typeof text !== 'string' || text.length === 0) {
    problems.push('"text" must be a non-empty string');
  }
  if (typeof reference !== 'string' || reference.length === 0 || reference.length > 100) {
    problems.push('"reference" must be a string of 1 to 100 characters');
  }
  if (from !== undefined && (typeof from !== 'string' || from.length === 0 || from.length > 15)) {
    problems.push('"from" must be a string of 1 to 15 characters');
  }
  for (const key of ['callback_url', 'callback_token']) {
    if (body[key] !== undefined && body[key] !== null && typeof body[key] !== 'string') {
      problems.push(`"${key}" must be a string`);
    }
  }
  if (problems.length) {
    answer(response, 400, {error: problems.join('; ')});
    return;
  }
  if (state.throttle > 0) {
    state.throttle--;
    log(`http send throttled reference=${reference}`);
    answer(response, 429, {error: 'too many requests'}, {'retry-after': '1'});
    return;
  }
  const known = state.byReference.get(reference);
  if (known) {
    if (known.destination !== to || known.text !== text) {
      answer(response, 409, {error: 'this reference was used for another message', id: known.message_id});
      return;
    }
    log(`http send repeated reference=${reference} id=${known.message_id}`);
    answer(response, 200, {id: known.message_id, reference, parts: known.parts});
    return;
  }
  const rejected = state.reject.get(digits(to));
  if (rejected !== undefined) {
    log(`http send rejected to=${to} status=0x${rejected.toString(16)}`);
    answer(response, 400, {error: `destination ${to} rejected (status 0x${rejected.toString(16).padStart(2, '0')})`});
    return;
  }
  const record = {
    message_id: newId(), via: 'http', source: from ?? null, destination: to, text, reference,
    parts: partsNeeded(text), callback_url: body.callback_url ?? null, received_at: new Date().toISOString(),
  };
  store(record);
  log(`http send id=${record.message_id} to=${to} parts=${record.parts} reference=${reference} text=${JSON.stringify(text)}`);
  answer(response, 201, {id: record.message_id, reference, parts: record.parts});
  if (record.callback_url) {
    scheduleCallback(record, record.callback_url, body.callback_token);
  }
}

function reset() {
  state.generation++;
  state.messages = [];
  state.byReference.clear();
  state.throttle = 0;
  state.reject.clear();
  state.undeliverable.clear();
  state.receipts = [];
  for (const session of sessions) {
    session.inflight.clear();
  }
  fs.writeFileSync(options.journal, '');
  log('reset');
}

const routes = {
  'GET /control/messages': async (request, response) => answer(response, 200, {messages: state.messages}),
  'GET /control/sessions': async (request, response) => answer(response, 200, {bound: boundSessions().length}),
  'POST /control/reset': async (request, response) => {
    reset();
    answer(response, 200, {});
  },
  'POST /control/throttle': async (request, response) => {
    const {count} = await readJson(request);
    if (!Number.isInteger(count) || count < 0) {
      answer(response, 400, {error: '"count" must be a whole number, 0 or more'});
      return;
    }
    state.throttle = count;
    log(`throttle the next ${count}`);
    answer(response, 200, {throttle: count});
  },
  'POST /control/reject': async (request, response) => {
    const {destination, status} = await readJson(request);
    if (typeof destination !== 'string' || !Number.isInteger(status) || status <= 0) {
      answer(response, 400, {error: '"destination" (string) and "status" (command_status, above 0) are needed'});
      return;
    }
    state.reject.set(digits(destination), status);
    log(`reject ${destination} with 0x${status.toString(16)}`);
    answer(response, 200, {});
  },
  'POST /control/undeliverable': async (request, response) => {
    const {destination} = await readJson(request);
    if (typeof destination !== 'string') {
      answer(response, 400, {error: '"destination" is needed'});
      return;
    }
    state.undeliverable.add(digits(destination));
    log(`undeliverable ${destination}`);
    answer(response, 200, {});
  },
  'POST /control/mo': async (request, response) => {
    const {source, destination, text} = await readJson(request);
    if (typeof source !== 'string' || typeof destination !== 'string' || typeof text !== 'string') {
      answer(response, 400, {error: '"source", "destination" and "text" are needed'});
      return;
    }
    if (!receivingSessions().length) {
      answer(response, 409, {error: 'no receiving session is bound'});
      return;
    }
    const statuses = await sendMo(source, destination, text);
    answer(response, 200, {sessions: statuses.length, statuses});
  },
  'POST /control/http-mo': async (request, response) => {
    const body = await readJson(request);
    for (const key of ['from', 'to', 'text', 'url']) {
      if (typeof body[key] !== 'string') {
        answer(response, 400, {error: `"${key}" is needed`});
        return;
      }
    }
    const message = {from: body.from, to: body.to, text: body.text, id: `mo-${newId()}`, received_at: new Date().toISOString()};
    try {
      const result = await post(body.url, message, body.token);
      log(`http mo id=${message.id} from=${message.from} to=${body.url} answered ${result.status}`);
      answer(response, result.status, {status: result.status, body: result.body, id: message.id});
    } catch (error) {
      log(`http mo id=${message.id} to=${body.url} failed: ${error.message}`);
      answer(response, 502, {error: `${body.url}: ${error.cause?.code ?? error.message}`, id: message.id});
    }
  },
  'POST /control/disconnect': async (request, response) => {
    const count = sessions.size;
    for (const session of sessions) {
      session.smpp.destroy();
    }
    log(`disconnected ${count} sessions`);
    answer(response, 200, {closed: count});
  },
  'POST /sms/v1/messages': handleHttpSend,
};

const control = http.createServer(async (request, response) => {
  const route = routes[`${request.method} ${new URL(request.url, 'http://localhost').pathname}`];
  if (!route) {
    answer(response, 404, {error: 'not found'});
    return;
  }
  try {
    await route(request, response);
  } catch (error) {
    if (!response.headersSent) {
      answer(response, 400, {error: error.message});
    }
  }
});

// ---------------------------------------------------------------------------------------------

loadJournal();
server.on('error', error => {
  log(`SMPP server: ${error.message}`);
  process.exit(1);
});
control.on('error', error => {
  log(`control server: ${error.message}`);
  process.exit(1);
});
server.listen(options.port, HOST, () => {
  // The control API (and so the ready check) answers only once both listen.
  control.listen(options.control, HOST, () => {
    log(`SMSC listening: SMPP ${HOST}:${options.port} (system_id ${options.systemId}), ` +
        `HTTP ${HOST}:${options.control} (control, /sms/v1/messages), journal ${options.journal}`);
  });
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    log(`stopping (${signal})`);
    process.exit(0);
  });
}
