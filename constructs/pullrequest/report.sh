#!/usr/bin/env bash
# Reports a pull request check, after the checks ran: approves the pull request when they passed,
# revokes the check's approval when they failed, then comments with the verdict and a link to the
# build. A pull request that moved on to a newer revision, or closed, meanwhile is superseded, not
# failed: the newer revision gets its own check, and this one says nothing that could contradict it.
# Every other error fails the build, so that no failed report goes unnoticed.
set -euo pipefail
: "${PULL_REQUEST_ID:?}" "${REVISION_ID:?}" "${SOURCE_COMMIT:?}" "${DESTINATION_COMMIT:?}" "${REPOSITORY_NAME:?}"

if [ "${CODEBUILD_BUILD_SUCCEEDING:-0}" = "1" ]; then
  verdict=passed state=APPROVE
else
  verdict=failed state=REVOKE
fi

# call DESCRIPTION COMMAND...: runs an AWS CLI call and prints its output. When the pull request is
# stale or closed it prints why and returns 2; any other failure goes to stderr and returns 1.
call() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    printf '%s\n' "$out"
    return 0
  fi
  case $out in
    *RevisionNotCurrentException*) echo "a newer revision replaced revision $REVISION_ID"; return 2 ;;
    *PullRequestAlreadyClosedException*) echo "it was closed"; return 2 ;;
  esac
  echo "pull request $PULL_REQUEST_ID: $what failed: $out" >&2
  return 1
}

# settle STATUS OUTPUT: ends the report when a call found the pull request superseded or failed.
settle() {
  case $1 in
    0) ;;
    2) echo "pull request $PULL_REQUEST_ID: $2, so this check's result ($verdict) is superseded"; exit 0 ;;
    *) exit 1 ;;
  esac
}

rc=0
pr=$(call "reading the pull request" aws codecommit get-pull-request --pull-request-id "$PULL_REQUEST_ID" \
  --query 'pullRequest.[pullRequestStatus,revisionId]' --output text) || rc=$?
settle "$rc" "$pr"
read -r status revision <<<"$pr"
[ "$status" = OPEN ] || settle 2 "it is $status"
[ "$revision" = "$REVISION_ID" ] || settle 2 "revision $revision replaced revision $REVISION_ID"

rc=0
out=$(call "setting the approval to $state" aws codecommit update-pull-request-approval-state \
  --pull-request-id "$PULL_REQUEST_ID" --revision-id "$REVISION_ID" --approval-state "$state") || rc=$?
settle "$rc" "$out"

rc=0
out=$(call "commenting" aws codecommit post-comment-for-pull-request --pull-request-id "$PULL_REQUEST_ID" \
  --repository-name "$REPOSITORY_NAME" --before-commit-id "$DESTINATION_COMMIT" --after-commit-id "$SOURCE_COMMIT" \
  --content "Checks ${verdict} for ${SOURCE_COMMIT:0:8}: ${CODEBUILD_BUILD_URL:-}") || rc=$?
settle "$rc" "$out"
echo "pull request $PULL_REQUEST_ID: checks $verdict, approval $state, comment posted"
