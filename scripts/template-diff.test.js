// Tests of scripts/template-diff.js: node --test scripts/template-diff.test.js. .ci/run runs them
// after npm ci, which installs the diff library; they start no jsii.
// Each case is a pair of small templates shaped as the CDK writes them, and asks what a reviewer
// would: does this change let anyone do more than before?
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { compare, review, wildcard, ruleCovers, cidrContains } = require('./template-diff.js');

const script = path.join(__dirname, 'template-diff.js');
const arn = (id) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const role = (service) => ({
  Type: 'AWS::IAM::Role',
  Properties: {
    AssumeRolePolicyDocument: {
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: service } }],
      Version: '2012-10-17',
    },
  },
});
const policy = (roles, statements) => ({
  Type: 'AWS::IAM::Policy',
  Properties: {
    PolicyDocument: { Statement: statements, Version: '2012-10-17' },
    PolicyName: 'P',
    Roles: roles.map((r) => ({ Ref: r })),
  },
});
const allow = (action, resource, extra = {}) => ({ Action: action, Effect: 'Allow', Resource: resource, ...extra });
const deny = (action, resource, extra = {}) => ({ Action: action, Effect: 'Deny', Resource: resource, ...extra });
const template = (resources) => ({ Resources: { Bucket: { Type: 'AWS::S3::Bucket' }, ...resources } });

// What the pipeline's role may assume: one statement over the actions' roles, as aws-cdk-lib
// groups it. With approval=false the Approve action's role leaves the stack, and the statement
// is written again without it.
const pipeline = (actionRoles) => template({
  PipelineRole: role('codepipeline.amazonaws.com'),
  ...Object.fromEntries(actionRoles.map((r) => [r, {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: arn('PipelineRole') } }],
        Version: '2012-10-17',
      },
    },
  }])),
  PipelinePolicy: policy(['PipelineRole'], [allow('sts:AssumeRole', actionRoles.map(arn))]),
});

const lines = (changes) => changes.map((c) => `${c.change} ${c.effect} ${c.principal} ${c.action} ${c.resource}${c.condition ? ' ' + c.condition : ''}`).sort();

test('a removed role and its regrouped statement narrow, they do not broaden (approval=false)', () => {
  const before = pipeline(['SourceRole', 'BuildRole', 'ApproveRole', 'DeployRole']);
  const after = pipeline(['SourceRole', 'BuildRole', 'DeployRole']);
  const result = compare(before, after);
  assert.deepEqual(result.broadened, []);
  assert.deepEqual(lines(result.narrowed), [
    'removed Allow AWS:${PipelineRole.Arn} sts:AssumeRole ${ApproveRole.Arn}',
    'removed Allow AWS:${PipelineRole} sts:AssumeRole ${ApproveRole.Arn}',
  ]);
  const { found, text } = review(before, after);
  assert.deepEqual(found, ['deleted']);
  assert.match(text, /== Broadened[^\n]*\nnothing\n/);
  assert.match(text, /^\[-\] AWS::IAM::Role ApproveRole ApproveRole destroy$/m);
});

test('a role added to what the pipeline may assume broadens', () => {
  const result = compare(pipeline(['SourceRole', 'BuildRole']), pipeline(['SourceRole', 'BuildRole', 'DeployRole']));
  assert.deepEqual(lines(result.broadened), [
    'added Allow AWS:${PipelineRole.Arn} sts:AssumeRole ${DeployRole.Arn}', // the new role's trust policy
    'added Allow AWS:${PipelineRole} sts:AssumeRole ${DeployRole.Arn}', // the pipeline role's policy
  ]);
});

test('a statement split in two, merged, or moved to another policy of the same role is no change', () => {
  const one = template({
    R: role('codebuild.amazonaws.com'),
    P: policy(['R'], [allow(['s3:GetObject', 's3:PutObject'], [arn('Bucket'), { 'Fn::Join': ['', [arn('Bucket'), '/*']] }])]),
  });
  const split = template({
    R: role('codebuild.amazonaws.com'),
    P: policy(['R'], [allow('s3:GetObject', arn('Bucket')), allow('s3:PutObject', arn('Bucket'))]),
    Q: policy(['R'], [allow(['s3:PutObject', 's3:GetObject'], { 'Fn::Join': ['', [arn('Bucket'), '/*']] })]),
  });
  for (const [before, after] of [[one, split], [split, one]]) {
    const result = compare(before, after);
    assert.deepEqual(result.broadened, []);
    assert.deepEqual(result.narrowed, []);
  }
});

test('the same statement moved to another role broadens that role', () => {
  const before = template({ A: role('codebuild.amazonaws.com'), B: role('lambda.amazonaws.com'), P: policy(['A'], [allow('s3:GetObject', arn('Bucket'))]) });
  const after = template({ A: role('codebuild.amazonaws.com'), B: role('lambda.amazonaws.com'), P: policy(['B'], [allow('s3:GetObject', arn('Bucket'))]) });
  const result = compare(before, after);
  assert.deepEqual(lines(result.broadened), ['added Allow AWS:${B} s3:GetObject ${Bucket.Arn}']);
  assert.deepEqual(lines(result.narrowed), ['removed Allow AWS:${A} s3:GetObject ${Bucket.Arn}']);
});

test('a narrower action, resource or a new condition is covered; the reverse broadens', () => {
  const objects = { 'Fn::Join': ['', [arn('Bucket'), '/*']] };
  const key = { 'Fn::Join': ['', [arn('Bucket'), '/releases/app.zip']] };
  const wide = template({ R: role('codebuild.amazonaws.com'), P: policy(['R'], [allow('s3:Get*', objects)]) });
  const narrow = template({ R: role('codebuild.amazonaws.com'), P: policy(['R'], [allow('s3:GetObject', key, { Condition: { Bool: { 'aws:SecureTransport': 'true' } } })]) });
  assert.deepEqual(compare(wide, narrow).broadened, []);
  assert.deepEqual(lines(compare(narrow, wide).broadened), ['added Allow AWS:${R} s3:Get* ${Bucket.Arn}/*']);

  const conditioned = template({ R: role('codebuild.amazonaws.com'), P: policy(['R'], [allow('s3:GetObject', key, { Condition: { Bool: { 'aws:SecureTransport': 'true' } } })]) });
  const unconditioned = template({ R: role('codebuild.amazonaws.com'), P: policy(['R'], [allow('s3:GetObject', key)]) });
  assert.deepEqual(lines(compare(conditioned, unconditioned).broadened), ['added Allow AWS:${R} s3:GetObject ${Bucket.Arn}/releases/app.zip']);
  assert.deepEqual(compare(unconditioned, conditioned).broadened, []);
});

test('a removed Deny broadens, an added one narrows', () => {
  const guard = deny('codecommit:GitPush', arn('Repo'), { Condition: { StringEqualsIfExists: { 'codecommit:References': ['refs/heads/main'] } } });
  const open = template({ G: { Type: 'AWS::IAM::Group' }, Repo: { Type: 'AWS::CodeCommit::Repository', Properties: { RepositoryName: 'r' } }, P: { Type: 'AWS::IAM::Policy', Properties: { PolicyDocument: { Statement: [allow('codecommit:GitPush', arn('Repo'))] }, PolicyName: 'P', Groups: [{ Ref: 'G' }] } } });
  const guarded = JSON.parse(JSON.stringify(open));
  guarded.Resources.P.Properties.PolicyDocument.Statement.push(guard);
  assert.deepEqual(lines(compare(guarded, open).broadened), [
    'removed Deny AWS:${G} codecommit:GitPush ${Repo.Arn} {"StringEqualsIfExists":{"codecommit:References":["refs/heads/main"]}}',
  ]);
  assert.deepEqual(compare(open, guarded).broadened, []);
  assert.equal(compare(open, guarded).narrowed.length, 1);
});

test('resource policies, Lambda permissions, managed policies and unreadable statements', () => {
  const topic = { Type: 'AWS::SNS::Topic' };
  const topicPolicy = (statements) => ({ Type: 'AWS::SNS::TopicPolicy', Properties: { PolicyDocument: { Statement: statements, Version: '2012-10-17' }, Topics: [{ Ref: 'T' }] } });
  const publish = (service) => ({ Action: 'sns:Publish', Effect: 'Allow', Principal: { Service: service }, Resource: { Ref: 'T' } });
  const before = template({ T: topic, TP: topicPolicy([publish('events.amazonaws.com')]) });
  const after = template({ T: topic, TP: topicPolicy([publish('events.amazonaws.com'), publish('codestar-notifications.amazonaws.com')]) });
  assert.deepEqual(lines(compare(before, after).broadened), ['added Allow Service:codestar-notifications.amazonaws.com sns:Publish ${T}']);

  const fn = { Type: 'AWS::Lambda::Function' };
  const invoke = { Type: 'AWS::Lambda::Permission', Properties: { Action: 'lambda:InvokeFunction', FunctionName: arn('F'), Principal: 'sns.amazonaws.com', SourceArn: { Ref: 'T' } } };
  assert.deepEqual(lines(compare(template({ F: fn, T: topic }), template({ F: fn, T: topic, I: invoke })).broadened), [
    'added Allow Service:sns.amazonaws.com lambda:InvokeFunction ${F.Arn} {"ArnLike":{"AWS:SourceArn":"${T}"}}',
  ]);

  const managed = template({ R: { ...role('codedeploy.amazonaws.com'), Properties: { ...role('codedeploy.amazonaws.com').Properties, ManagedPolicyArns: ['arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole'] } } });
  const bare = template({ R: role('codedeploy.amazonaws.com') });
  assert.deepEqual(compare(bare, managed).broadened.map((c) => `${c.kind} ${c.identity} ${c.policy}`), ['managed-policy ${R} arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole']);
  assert.deepEqual(compare(managed, bare).broadened, []);

  const conditional = template({ R: role('codedeploy.amazonaws.com'), P: policy(['R'], [{ 'Fn::If': ['C', allow('s3:*', '*'), { Ref: 'AWS::NoValue' }] }]) });
  assert.equal(compare(bare, conditional).broadened.length, 1, 'a statement the library cannot read counts as broadening');
  assert.deepEqual(compare(conditional, conditional).broadened, []);
});

test('security group rules: a wider opening broadens, a narrower one or a moved rule does not', () => {
  const group = (ingress) => ({ Type: 'AWS::EC2::SecurityGroup', Properties: { GroupDescription: 'g', SecurityGroupIngress: ingress, VpcId: 'vpc-1' } });
  const web = { CidrIp: '0.0.0.0/0', FromPort: 80, IpProtocol: 'tcp', ToPort: 443 };
  const https = { CidrIp: '10.0.0.0/16', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 };
  const wide = template({ G: group([web]) });
  const narrow = template({ G: group([https]) });
  assert.deepEqual(compare(wide, narrow).broadened, []);
  assert.deepEqual(compare(narrow, wide).broadened.map((c) => `${c.kind} ${c.group} ${c.protocol} ${c.peer}`), ['ingress ${G.GroupId} TCP 80-443 Everyone (IPv4)']);
  assert.equal(compare(wide, narrow).narrowed.length, 1);

  const moved = template({ G: group([]), I: { Type: 'AWS::EC2::SecurityGroupIngress', Properties: { ...web, GroupId: { 'Fn::GetAtt': ['G', 'GroupId'] } } } });
  assert.deepEqual(compare(wide, moved).broadened, []);
  assert.deepEqual(compare(wide, moved).narrowed, []);
});

test('a replaced resource names the property that replaces it', () => {
  const named = (name) => template({ Repo: { Type: 'AWS::CodeCommit::Repository', Properties: { RepositoryName: name } } });
  const bucket = (name) => ({ Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: name } } } });
  assert.deepEqual(compare(named('a'), named('b')).resources.map((r) => r.impact), ['WILL_UPDATE'], 'renaming a repository updates it');
  const { found, text } = review(bucket('a'), bucket('b'));
  assert.deepEqual(found, ['replaced']);
  assert.match(text, /^\[~\] AWS::S3::Bucket Bucket Bucket replace: BucketName \(requires replacement\)$/m);
});

test('wildcards, CIDR blocks and protocols', () => {
  assert.ok(wildcard('s3:get*', 's3:getobject'));
  assert.ok(wildcard('arn:aws:s3:::b/*', 'arn:aws:s3:::b/*'));
  assert.ok(!wildcard('arn:aws:s3:::b/a*', 'arn:aws:s3:::b/*'), 'a narrower pattern does not cover a wider one');
  assert.ok(!wildcard('s3:GetObjec?', 's3:GetObjec*'));
  assert.ok(!wildcard('${B.Arn}', '${B.Arn}/*'));
  assert.ok(cidrContains('10.0.0.0/8', '10.1.2.0/24'));
  assert.ok(!cidrContains('10.1.2.0/24', '10.0.0.0/8'));
  assert.ok(!cidrContains('10.0.0.0/8', '11.0.0.0/8'));
  assert.ok(cidrContains('0.0.0.0/0', '192.168.0.1/32'));
  const rule = (p, from, to) => ({ groupId: 'g', ipProtocol: p, fromPort: from, toPort: to, peer: { kind: 'cidr-ip', ip: '0.0.0.0/0' } });
  assert.ok(ruleCovers(rule('-1'), rule('tcp', 22, 22)));
  assert.ok(ruleCovers(rule('6', 0, 65535), rule('tcp', 22, 22)));
  assert.ok(!ruleCovers(rule('tcp', 80, 80), rule('udp', 80, 80)));
  assert.ok(!ruleCovers(rule('icmp', 8, -1), rule('icmp', 0, -1)));
});

test('the command line: the sweep\'s pairs, and the review\'s exit codes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'template-diff-'));
  const write = (name, t) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(t));
    return file;
  };
  const before = write('before.json', pipeline(['SourceRole', 'ApproveRole']));
  const after = write('after.json', pipeline(['SourceRole']));
  const retained = write('retained.json', template({ Repo: { Type: 'AWS::CodeCommit::Repository', DeletionPolicy: 'Retain', Properties: { RepositoryName: 'r' } } }));

  // The sweep's format (the app's sweep_test.go): name and resources {id, type, impact, properties}.
  const out = execFileSync('node', [script], { input: JSON.stringify([
    { name: 'regrouped', before, after },
    { name: 'removed stack', before: retained, after: path.join(dir, 'missing.json') },
  ]) }).toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(out.map((o) => o.name), ['regrouped', 'removed stack']);
  assert.deepEqual(out[0].resources.find((r) => r.id === 'ApproveRole'), { id: 'ApproveRole', type: 'AWS::IAM::Role', impact: 'WILL_DESTROY', properties: [] });
  assert.deepEqual(out[0].broadened, []);
  assert.deepEqual(out[1].resources.find((r) => r.id === 'Repo'), { id: 'Repo', type: 'AWS::CodeCommit::Repository', impact: 'WILL_ORPHAN', properties: [] });

  const run = (...args) => spawnSync('node', [script, '--review', ...args]);
  assert.equal(run(before, after).status, 3, 'a deleted role gates by default');
  assert.equal(run('--fail-on', 'broadened', before, after).status, 0, 'a narrowing is not broadening');
  assert.equal(run('--fail-on', 'broadened', after, before).status, 3, 'a broadening is');
  assert.equal(run('--fail-on', 'none', after, before).status, 0);
  assert.equal(run('--fail-on', 'bogus', before, after).status, 2);
  const orphan = run(retained, write('empty.json', template({})));
  assert.equal(orphan.status, 3);
  assert.match(orphan.stdout.toString(), /^\[-\] AWS::CodeCommit::Repository Repo Repo orphan$/m);
  assert.match(orphan.stdout.toString(), /^Found: orphaned$/m);
});

test('--stateful: only resources of those types count as replaced, deleted or orphaned', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'template-diff-'));
  const write = (name, t) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(t));
    return file;
  };
  const stateful = 'AWS::S3::Bucket,AWS::Logs::LogGroup';
  const queue = (name) => ({ Q: { Type: 'AWS::SQS::Queue', Properties: { QueueName: name } } });
  const bucket = (name) => ({ Resources: { Bucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: name } } } });
  const run = (...args) => spawnSync('node', [script, '--review', '--fail-on', 'replaced,deleted', '--stateful', stateful, ...args]);

  // A queue replaced and a role deleted: listed, not counted.
  const stateless = run(write('q1.json', template({ ...queue('a'), R: role('x.amazonaws.com') })), write('q2.json', template(queue('b'))));
  assert.equal(stateless.status, 0, stateless.stdout.toString());
  assert.match(stateless.stdout.toString(), /^\[~\] AWS::SQS::Queue Q Q replace: QueueName \(requires replacement\)$/m);
  assert.match(stateless.stdout.toString(), /^\[-\] AWS::IAM::Role R R destroy$/m);
  assert.match(stateless.stdout.toString(), /^Found: nothing$/m);

  // A bucket replaced: counted and marked.
  const replaced = run(write('b1.json', bucket('a')), write('b2.json', bucket('b')));
  assert.equal(replaced.status, 3);
  assert.match(replaced.stdout.toString(), /^\[~\] AWS::S3::Bucket Bucket Bucket replace: BucketName \(requires replacement\) \[stateful\]$/m);
  assert.match(replaced.stdout.toString(), /^Found: replaced$/m);

  // A log group deleted fails; a retained one orphaned is reported, and passes --fail-on replaced,deleted.
  const logs = (policy) => template({ L: { Type: 'AWS::Logs::LogGroup', ...(policy ? { DeletionPolicy: policy } : {}) } });
  assert.equal(run(write('l1.json', logs()), write('l0.json', template({}))).status, 3);
  const orphan = run(write('l2.json', logs('Retain')), write('l3.json', template({})));
  assert.equal(orphan.status, 0);
  assert.match(orphan.stdout.toString(), /^Found: orphaned$/m);
  assert.equal(spawnSync('node', [script, '--review', '--stateful', 'not a type', write('x.json', template({})), write('y.json', template({}))]).status, 2);
});
