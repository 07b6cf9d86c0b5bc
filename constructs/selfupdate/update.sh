#!/usr/bin/env bash
# The update stage's build: deploys this app's stacks from the commit the pipeline runs, unless
# nothing they are made from changed since the deployed stacks were synthesized.
#
# The decision needs no synthesis and no AWS call. The pipeline stack carries, in this project's
# DEPLOYED_DIGEST, the digest of the repository content it was synthesized from (everything but
# sample-app/, and the -c values of that deploy); infrastructure_digest, which the buildspec
# defines before this runs, computes the same digest of this checkout (package selfupdate/seed).
# Equal digests: the stacks are what this commit would make, and the stage ends. Otherwise the
# pinned CDK CLI deploys every stack, and the CLI itself skips each stack whose template and
# parameters are unchanged. The pipeline stack is deployed last (it depends on the others), so
# its DEPLOYED_DIGEST changes only once everything before it is deployed.
#
# The Go and npm caches live in one archive, $CACHE_BUCKET/self-update/cache.tar.gz, which only a
# deploy reads and writes: the fast path pays nothing for them. Only this project's role may write
# there (the artifact bucket's policy), and the archive is extracted as root: it is checked before,
# and refused whole unless it holds nothing but files and folders below the cache folders.
set -euo pipefail
: "${DEPLOYED_DIGEST:?}" "${CACHE_BUCKET:?}"

say() { printf 'self-update: %s\n' "$*"; }

# The repository must hold this CDK app at its root, with the application in sample-app/: the
# seed does, an imported repository must be given it (docs/self-update.md).
if [ ! -f cdk.json ] || [ ! -f go.mod ] || [ ! -f package-lock.json ] || [ ! -d sample-app ]; then
  say "the repository holds no CDK app at its root (cdk.json, go.mod, package-lock.json, sample-app/): push this pipeline's app there first, see docs/self-update.md"
  exit 1
fi

digest=$(infrastructure_digest)
if [ "$digest" = "$DEPLOYED_DIGEST" ]; then
  say "nothing outside sample-app/ changed since the deployed stacks were synthesized (digest ${digest:0:12}): nothing to deploy"
  exit 0
fi
say "the app changed outside sample-app/ (digest ${DEPLOYED_DIGEST:0:12} deployed, ${digest:0:12} here): deploying every stack"

cache="s3://$CACHE_BUCKET/self-update/cache.tar.gz"
# The folders of GOMODCACHE, GOCACHE and npm_config_cache (the buildspec's), relative to /: the
# archive holds these and nothing else.
folders=(root/.cache/go-mod root/.cache/go-build root/.npm)
archive=$(mktemp)

# unsafe prints why the archive $1 must not be extracted as root, if it must not: a member that is
# not a regular file or a folder (a symbolic or hard link, a device), whose name is absolute or has
# a .. in it, or that is not below one of the folders. GNU tar lists one member a line, quoting the
# control characters of its name.
unsafe() {
  local types names
  if ! types=$(tar -tvzf "$1") || ! names=$(tar -tzf "$1"); then
    echo "it is no gzip tar archive"
    return
  fi
  if grep -qv '^[-d]' <<<"$types"; then
    echo "it holds a link or a special file: $(grep -v '^[-d]' <<<"$types" | head -n 1)"
  elif grep -Eq '^/|(^|/)\.\.(/|$)' <<<"$names"; then
    echo "it holds an absolute path or ..: $(grep -E '^/|(^|/)\.\.(/|$)' <<<"$names" | head -n 1)"
  elif grep -Eqv '^root/(\.cache/go-mod|\.cache/go-build|\.npm)(/|$)' <<<"$names"; then
    echo "it holds a file outside ${folders[*]}: $(grep -Ev '^root/(\.cache/go-mod|\.cache/go-build|\.npm)(/|$)' <<<"$names" | head -n 1)"
  fi
}

if ! aws s3 cp "$cache" "$archive" --only-show-errors 2>/dev/null; then
  say "no cache yet: this deploy downloads and compiles everything"
elif reason=$(unsafe "$archive") && [ -n "$reason" ]; then
  say "refused the cache ($reason): this deploy downloads and compiles everything"
elif tar -xzf "$archive" -C / --no-same-owner --no-same-permissions -- "${folders[@]}"; then
  say "restored the Go and npm caches"
else
  (cd / && rm -rf -- "${folders[@]}")
  say "the cache did not extract: this deploy downloads and compiles everything"
fi

# The Go that built the Lambda functions at the first deploy builds them again, so that their
# assets keep their hashes (the go command downloads that release through the module proxy once,
# into the cached module folder).
if [ -f seed.json ]; then
  go=$(node -p 'require("./seed.json").go')
  if [[ $go =~ ^go1\.[0-9]+(\.[0-9]+)?$ ]]; then
    export GOTOOLCHAIN=$go
  fi
fi

npm ci --no-audit --no-fund
status=0
npx cdk deploy --all --require-approval never --progress events || status=$?

if tar -czf "$archive" -C / "${folders[@]}" 2>/dev/null &&
  aws s3 cp "$archive" "$cache" --only-show-errors; then
  say "saved the Go and npm caches"
else
  say "the caches were not saved; the next deploy starts without them"
fi
exit "$status"
