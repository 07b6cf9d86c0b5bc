#!/usr/bin/env node
// template-diff: what CloudFormation would do to each resource when one template replaces another,
// as @aws-cdk/cloudformation-diff (the library behind `cdk diff`) computes it from the service
// specification: which resources are created, updated in place, replaced, destroyed or orphaned
// (removed but retained by their DeletionPolicy), and which properties cause each change.
//
//   node scripts/template-diff.js <pairs.json
//
// stdin: a JSON list of {"name": ..., "before": file, "after": file}; a missing file is an empty
// template (a stack added or removed). stdout: one JSON object per pair, one per line:
// {"name": ..., "resources": [{"id", "type", "impact", "properties": [...]}]}, changed resources only.
'use strict';
const fs = require('fs');
const { fullDiff } = require('@aws-cdk/cloudformation-diff');

const read = (file) => (file && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});
const pairs = JSON.parse(fs.readFileSync(0, 'utf8'));
for (const pair of pairs) {
  const diff = fullDiff(read(pair.before), read(pair.after));
  const resources = [];
  diff.resources.forEachDifference((id, change) => {
    resources.push({
      id,
      type: change.newResourceType || change.oldResourceType,
      impact: change.changeImpact,
      properties: Object.keys(change.propertyUpdates || {}),
    });
  });
  process.stdout.write(JSON.stringify({ name: pair.name, resources }) + '\n');
}
