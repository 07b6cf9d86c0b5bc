#!/usr/bin/env node
// template-diff: what CloudFormation would do when one template replaces another, as
// @aws-cdk/cloudformation-diff (the library behind `cdk diff`) computes it from the service
// specification, and whether the change broadens what the stack allows.
//
//   node scripts/template-diff.js <pairs.json                                   (the configuration sweep)
//   node scripts/template-diff.js --review [--fail-on LIST] [--stateful TYPES] BEFORE AFTER
//                                                               (scripts/review-diff, scripts/pr-diff)
//
// Pairs: stdin is a JSON list of {"name": ..., "before": file, "after": file}; a missing file is an
// empty template (a stack added or removed). stdout has one JSON object per pair, one per line:
//   {"name": ..., "resources": [{"id", "type", "impact", "properties": [...]}],
//    "broadened": [change, ...], "narrowed": [change, ...]}
// with changed resources only. A change is {"kind": "statement", "change": "added"|"removed",
// "effect", "principal", "action", "resource", "condition"}, {"kind": "managed-policy", "change",
// "identity", "policy"} or {"kind": "ingress"|"egress", "change", "group", "protocol", "peer"}.
//
// Review: the change from BEFORE to AFTER in the questions a reviewer asks first: what is
// replaced, deleted or orphaned, and which permissions or network openings grow. Exit status 3 when
// a category of --fail-on (comma-separated: replaced, deleted, orphaned, broadened; default all four;
// none) has something, 0 when not, 2 on a usage error, 1 when no diff could be made. With
// --stateful (comma-separated resource types), replaced, deleted and orphaned count only resources of
// those types, the ones whose data goes with them; the others are still listed, without [stateful].
//
// Every classification comes from the library's structured result: the resources' impacts
// (TemplateDiff.resources), and its IAM and security-group change sets (iamChanges.statements and
// .managedPolicies, securityGroupChanges.ingress and .egress). Those sets compare whole statements,
// so a statement regrouped (one role's resources moved into another statement, a statement split
// or merged) is a removal and an addition. Broadening is decided on what the statements allow:
// each is exploded into (effect, principal, action, resource, condition) tuples, and the change
// broadens when an added Allow tuple is covered by no Allow tuple of the whole old template (same
// principal; action and resource equal or matched by an IAM wildcard; no condition, or the same),
// or when a removed Deny tuple is covered by no Deny tuple of the new one. A security group rule
// broadens when no rule of the old template on the same group admits its peer, protocol and ports.
'use strict';
const fs = require('fs');
const { fullDiff } = require('@aws-cdk/cloudformation-diff');

const REPLACING = ['WILL_REPLACE', 'MAY_REPLACE'];

// compare answers everything this script reports about one pair of templates.
function compare(before, after) {
  const diff = fullDiff(clone(before), clone(after));
  const resources = [];
  diff.resources.forEachDifference((id, change) => {
    const updates = change.propertyUpdates || {};
    resources.push({
      id,
      type: change.newResourceType || change.oldResourceType,
      impact: change.changeImpact,
      properties: Object.keys(updates),
      replacing: Object.keys(updates)
        .filter((p) => REPLACING.includes(updates[p].changeImpact))
        .map((p) => ({ property: p, impact: updates[p].changeImpact })),
    });
  });
  return { resources, ...permissionChanges(diff, before, after) };
}

// permissionChanges is what the diff's IAM and security-group change sets add and remove, judged
// against everything the other template allows.
function permissionChanges(diff, before, after) {
  const broadened = [];
  const narrowed = [];
  if (!diff.iamChanges.hasChanges && !diff.securityGroupChanges.hasChanges) {
    return { broadened, narrowed };
  }
  // Everything a template holds is what the library reports as added to an empty template.
  const old = fullDiff({}, clone(before));
  const now = fullDiff({}, clone(after));
  const oldTuples = index(old.iamChanges.statements.additions.flatMap(explode));
  const newTuples = index(now.iamChanges.statements.additions.flatMap(explode));

  const added = dedupe(diff.iamChanges.statements.additions.flatMap(explode));
  const removed = dedupe(diff.iamChanges.statements.removals.flatMap(explode));
  for (const t of added) {
    if (covered(t, oldTuples)) continue;
    // A new Allow (or a statement the library could not parse) grants more; a new Deny grants less.
    (t.effect === 'Deny' ? narrowed : broadened).push(statementChange('added', t));
  }
  for (const t of removed) {
    if (covered(t, newTuples)) continue;
    (t.effect === 'Allow' ? narrowed : broadened).push(statementChange('removed', t));
  }

  const attachments = (d) => d.iamChanges.managedPolicies.additions;
  for (const m of diff.iamChanges.managedPolicies.additions) {
    if (!attachments(old).some((o) => o.equal(m))) broadened.push(policyChange('added', m));
  }
  for (const m of diff.iamChanges.managedPolicies.removals) {
    if (!attachments(now).some((o) => o.equal(m))) narrowed.push(policyChange('removed', m));
  }

  for (const direction of ['ingress', 'egress']) {
    const rules = (d) => d.securityGroupChanges[direction].additions;
    for (const r of diff.securityGroupChanges[direction].additions) {
      if (!rules(old).some((o) => ruleCovers(o, r))) broadened.push(ruleChange(direction, 'added', r));
    }
    for (const r of diff.securityGroupChanges[direction].removals) {
      if (!rules(now).some((o) => ruleCovers(o, r))) narrowed.push(ruleChange(direction, 'removed', r));
    }
  }
  return { broadened, narrowed };
}

// explode turns one of the library's parsed statements into the tuples it allows or denies. A
// statement with NotAction, NotResource or NotPrincipal, or one the library could not parse (an
// intrinsic such as Fn::If), stays whole: it covers, and is covered by, only its equal.
function explode(s) {
  const condition = canonical(s.condition);
  if (s.serializedIntrinsic !== undefined || s.effect === 'Unknown') {
    return [{ whole: true, effect: 'Unknown', key: `intrinsic ${s.serializedIntrinsic}`, condition: '' }];
  }
  if (s.actions.not || s.resources.not || s.principals.not) {
    const target = (t) => (t.not ? 'NOT ' : '') + t.values.join(',');
    return [{
      whole: true,
      effect: s.effect,
      principal: target(s.principals),
      action: target(s.actions),
      resource: target(s.resources),
      condition,
      key: JSON.stringify([s.effect, target(s.principals), target(s.actions), target(s.resources), condition]),
    }];
  }
  const all = (t) => (t.values.length ? t.values : ['']);
  const out = [];
  for (const principal of all(s.principals)) {
    for (const action of all(s.actions)) {
      for (const resource of all(s.resources)) {
        out.push({ effect: s.effect, principal, action, resource, condition });
      }
    }
  }
  return out;
}

// index groups tuples by effect and principal, the two fields that must match exactly (or by "*").
function index(tuples) {
  const byKey = new Map();
  const wholes = new Set();
  for (const t of tuples) {
    if (t.whole) {
      wholes.add(t.key);
      continue;
    }
    const k = `${t.effect} ${t.principal}`;
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k).push(t);
  }
  return { byKey, wholes };
}

// covered reports whether some tuple of the index allows (or denies) at least what t does.
function covered(t, idx) {
  if (t.whole) return idx.wholes.has(t.key);
  const candidates = [t.principal, '*'];
  if (t.principal.startsWith('AWS:')) candidates.push('AWS:*');
  for (const p of candidates) {
    for (const o of idx.byKey.get(`${t.effect} ${p}`) || []) {
      if (tupleCovers(o, t)) return true;
    }
  }
  return false;
}

// tupleCovers: o allows (denies) every request t does. Actions are case-insensitive in IAM.
function tupleCovers(o, t) {
  return wildcard(o.action.toLowerCase(), t.action.toLowerCase())
    && wildcard(o.resource, t.resource)
    && (o.condition === '' || o.condition === t.condition);
}

// wildcard matches value against an IAM pattern: * is any run of characters, ? one character
// (never a * of the value, which stands for more than one).
function wildcard(pattern, value) {
  if (pattern === value) return true;
  if (!/[*?]/.test(pattern)) return false;
  const re = pattern.split('').map((c) => {
    if (c === '*') return '.*';
    if (c === '?') return '[^*]';
    return c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }).join('');
  return new RegExp(`^${re}$`, 's').test(value);
}

// ruleCovers: rule o of a security group admits all traffic that rule r does.
function ruleCovers(o, r) {
  if (o.groupId !== r.groupId || !peerCovers(o.peer, r.peer)) return false;
  const op = protocol(o.ipProtocol);
  const rp = protocol(r.ipProtocol);
  if (op === '-1') return true;
  if (op !== rp) return false;
  const all = (p) => p === undefined || p === -1;
  if (all(o.fromPort)) return true;
  if (all(r.fromPort)) return false;
  if (op === 'icmp' || op === 'icmpv6') {
    // For ICMP the "ports" are a type and a code, not a range.
    return o.fromPort === r.fromPort && (all(o.toPort) || o.toPort === r.toPort);
  }
  return o.fromPort <= r.fromPort && r.toPort <= o.toPort;
}

function protocol(p) {
  const names = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6' };
  const s = String(p).toLowerCase();
  return names[s] || s;
}

function peerCovers(o, r) {
  if (!o || !r) return !o && !r;
  if (o.kind !== r.kind) return false;
  switch (o.kind) {
    case 'cidr-ip': return cidrContains(o.ip, r.ip);
    case 'security-group': return o.securityGroupId === r.securityGroupId;
    case 'prefix-list': return o.prefixListId === r.prefixListId;
    default: return false;
  }
}

// cidrContains: IPv4 block outer holds block inner. Anything else (IPv6, a token) must be equal.
function cidrContains(outer, inner) {
  if (outer === inner) return true;
  const parse = (c) => {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(String(c));
    if (!m) return undefined;
    return { addr: ((+m[1] << 24) | (+m[2] << 16) | (+m[3] << 8) | +m[4]) >>> 0, bits: +m[5] };
  };
  const o = parse(outer);
  const i = parse(inner);
  if (!o || !i || i.bits < o.bits) return false;
  const mask = o.bits === 0 ? 0 : (~0 << (32 - o.bits)) >>> 0;
  return ((o.addr & mask) >>> 0) === ((i.addr & mask) >>> 0);
}

// canonical is a condition block as a string that does not depend on key or value order.
function canonical(condition) {
  if (!condition || Object.keys(condition).length === 0) return '';
  const sort = (v) => {
    if (Array.isArray(v)) return v.map(sort).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])]));
    }
    return v;
  };
  return JSON.stringify(sort(condition));
}

function dedupe(tuples) {
  const seen = new Set();
  return tuples.filter((t) => {
    const k = t.whole ? t.key : JSON.stringify([t.effect, t.principal, t.action, t.resource, t.condition]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function statementChange(change, t) {
  if (t.effect === 'Unknown') {
    return { kind: 'statement', change, effect: 'Unknown', principal: '', action: '', resource: t.key, condition: '' };
  }
  const { effect, principal, action, resource, condition } = t;
  return { kind: 'statement', change, effect, principal, action, resource, condition };
}

function policyChange(change, m) {
  return { kind: 'managed-policy', change, identity: m.identityArn, policy: m.managedPolicyArn };
}

function ruleChange(kind, change, r) {
  return { kind, change, group: r.groupId, protocol: r.describeProtocol(), peer: r.describePeer() };
}

function clone(template) {
  return JSON.parse(JSON.stringify(template || {}));
}

const read = (file) => (file && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});

// ---- review: the report scripts/review-diff prints ----

const CATEGORIES = ['replaced', 'deleted', 'orphaned', 'broadened'];

// review is the report, and the categories in which the change has something. stateful, when
// given, is the list of resource types that replaced, deleted and orphaned count.
function review(before, after, stateful) {
  const result = compare(before, after);
  const paths = pathNames(before, after);
  const show = (s) => String(s).replace(/\$\{([A-Za-z0-9]+)([.}])/g,
    (m, id, end) => (paths[id] ? `\${${paths[id]}${end}` : m));
  const counts = (r) => !stateful || stateful.includes(r.type);
  const line = (sign, r, what) => `[${sign}] ${r.type} ${paths[r.id] || r.id} ${r.id} ${what}${stateful && counts(r) ? ' [stateful]' : ''}`;
  const having = (...impacts) => result.resources.filter((r) => impacts.includes(r.impact));
  const sections = {
    replaced: having(...REPLACING).map((r) => line('~', r, replacement(r))),
    deleted: having('WILL_DESTROY').map((r) => line('-', r, 'destroy')),
    orphaned: having('WILL_ORPHAN').map((r) => line('-', r, 'orphan')),
    broadened: describe(result.broadened, show),
  };
  const counted = {
    replaced: having(...REPLACING).filter(counts).length,
    deleted: having('WILL_DESTROY').filter(counts).length,
    orphaned: having('WILL_ORPHAN').filter(counts).length,
    broadened: sections.broadened.length,
  };
  const out = [];
  const section = (title, lines) => {
    out.push(`== ${title}`, ...(lines.length ? lines : ['nothing']), '');
  };
  section('Replaced', sections.replaced);
  section('Deleted', sections.deleted);
  section('Orphaned: removed from the stack but retained, so CloudFormation stops managing them'
    + ' and they stay in the account', sections.orphaned);
  section('Broadened: permissions and network openings the change adds (IAM statements compared'
    + ' by what they allow: a regrouped statement is no change)', sections.broadened);
  section('Narrowed: permissions and network openings the change removes (for information)', describe(result.narrowed, show));
  const found = CATEGORIES.filter((c) => counted[c] > 0);
  out.push(`Found: ${found.length ? found.join(', ') : 'nothing'}`);
  return { text: out.join('\n') + '\n', found };
}

// replacement says whether a resource is replaced, and which properties cause it.
function replacement(r) {
  const verb = r.impact === 'WILL_REPLACE' ? 'replace' : 'may be replaced';
  const causes = r.replacing.map((p) =>
    `${p.property} (${p.impact === 'WILL_REPLACE' ? 'requires replacement' : 'may cause replacement'})`);
  return `${verb}: ${causes.join(', ') || 'its type changed'}`;
}

// describe renders changes one line each, the actions of one principal, resource and condition
// together.
function describe(changes, show) {
  const lines = [];
  const grouped = new Map();
  for (const c of changes) {
    const sign = c.change === 'added' ? '+' : '-';
    if (c.kind === 'statement') {
      const k = JSON.stringify([sign, c.effect, c.principal, c.resource, c.condition]);
      if (!grouped.has(k)) grouped.set(k, { c, sign, actions: [] });
      if (c.action) grouped.get(k).actions.push(c.action);
    } else if (c.kind === 'managed-policy') {
      lines.push(`${sign} managed policy ${show(c.policy)} on ${show(c.identity)}`);
    } else {
      lines.push(`${sign} ${c.kind} ${show(c.group)}: ${c.protocol} ${c.kind === 'ingress' ? 'from' : 'to'} ${show(c.peer)}`);
    }
  }
  for (const { c, sign, actions } of grouped.values()) {
    if (c.effect === 'Unknown') {
      lines.push(`${sign} a statement the diff library cannot read: ${show(c.resource)}`);
      continue;
    }
    const condition = c.condition ? ` if ${show(c.condition)}` : '';
    lines.push(`${sign} ${c.effect} ${show(c.principal)} ${actions.sort().join(', ')} on ${show(c.resource)}${condition}`);
  }
  return lines.sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : 1));
}

// pathNames maps logical ids to construct paths (aws:cdk:path without the stack and "/Resource"),
// as cdk diff shows them.
function pathNames(...templates) {
  const paths = {};
  for (const t of templates) {
    for (const [id, r] of Object.entries((t && t.Resources) || {})) {
      const path = r && r.Metadata && r.Metadata['aws:cdk:path'];
      if (typeof path === 'string') paths[id] = path.split('/').slice(1).join('/').replace(/\/Resource$/, '');
    }
  }
  return paths;
}

function usage() {
  process.stderr.write('usage: template-diff.js <pairs.json | template-diff.js --review [--fail-on replaced,deleted,orphaned,broadened|none] [--stateful TYPE,...] BEFORE AFTER\n');
  process.exit(2);
}

function main(args) {
  if (args.length === 0) {
    const pairs = JSON.parse(fs.readFileSync(0, 'utf8'));
    for (const pair of pairs) {
      const { resources, broadened, narrowed } = compare(read(pair.before), read(pair.after));
      const sweep = resources.map(({ id, type, impact, properties }) => ({ id, type, impact, properties }));
      process.stdout.write(JSON.stringify({ name: pair.name, resources: sweep, broadened, narrowed }) + '\n');
    }
    return 0;
  }
  if (args[0] !== '--review') usage();
  args = args.slice(1);
  let failOn = CATEGORIES;
  if (args[0] === '--fail-on') {
    if (args.length < 2) usage();
    failOn = args[1].split(',').filter((c) => c !== '');
    if (failOn.some((c) => c !== 'none' && !CATEGORIES.includes(c))) usage();
    args = args.slice(2);
  }
  let stateful;
  if (args[0] === '--stateful') {
    if (args.length < 2) usage();
    stateful = args[1].split(',').filter((t) => t !== '');
    if (stateful.length === 0 || stateful.some((t) => !/^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$/.test(t))) usage();
    args = args.slice(2);
  }
  if (args.length !== 2 || args.some((f) => !fs.existsSync(f))) usage();
  const { text, found } = review(read(args[0]), read(args[1]), stateful);
  process.stdout.write(text);
  return found.some((c) => failOn.includes(c)) ? 3 : 0;
}

module.exports = { compare, review, wildcard, ruleCovers, cidrContains };

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
