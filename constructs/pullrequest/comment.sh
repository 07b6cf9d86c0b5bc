#!/usr/bin/env bash
# Adds a check's own text to the comment that report.sh posts: the file $COMMENT_FILE (relative to
# the source's root) that the check's commands wrote, after report.sh's verdict line, cut to
# CodeCommit's limit of 10,240 characters for a comment (Quotas in AWS CodeCommit, "Comment
# length"). report.sh itself is shared, word for word, with checks that add nothing, so this wraps
# its one comment call: the function aws, defined in the build's shell before report.sh runs in a
# subshell of it, which inherits it. Every other aws command passes through unchanged.
aws() {
  local file="${CODEBUILD_SRC_DIR:-.}/${COMMENT_FILE:-}"
  if [ "${1:-} ${2:-}" != "codecommit post-comment-for-pull-request" ] || [ -z "${COMMENT_FILE:-}" ] || [ ! -s "$file" ]; then
    command aws "$@"
    return
  fi
  local args=() limit=10240 cut="[... cut to CodeCommit's comment limit: the whole text is in the build log]" content
  while [ $# -gt 0 ]; do
    if [ "$1" = --content ] && [ $# -ge 2 ]; then
      content="$2"$'\n\n'"$(cat "$file")"
      # Characters, as CodeCommit counts them, not bytes.
      if [ "$(LC_ALL=C.UTF-8 bash -c 'printf %s "${#1}"' _ "$content")" -gt "$limit" ]; then
        content="$(LC_ALL=C.UTF-8 bash -c 'printf %s "${1:0:$2}"' _ "$content" "$((limit - ${#cut} - 2))")"$'\n\n'"$cut"
      fi
      args+=(--content "$content")
      shift 2
    else
      args+=("$1")
      shift
    fi
  done
  command aws "${args[@]}"
}
