package stacks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

// approvalRule is the content of the pull request check's approval rule template, as its custom
// resource creates it and updates it, parsed: the CodeCommit calls are JSON text with the stack's
// tokens in it, rendered as cdktest renders them (${path}, ${AWS::AccountId}).
func approvalRule(t *testing.T, s *cdktest.Synthesized) (create, update map[string]any) {
	t.Helper()
	id, ok := s.LogicalID("PullRequestChecks/ApprovalRule/Template/Resource/Default")
	require.True(t, ok, "the approval rule template's custom resource")
	props := s.JSON["Resources"].(object)[id].(object)["Properties"].(object)
	content := func(call, action, field string) map[string]any {
		var sdk struct {
			Action     string         `json:"action"`
			Parameters map[string]any `json:"parameters"`
		}
		require.NoError(t, json.Unmarshal([]byte(s.Render(props[call])), &sdk), call)
		require.Equal(t, action, sdk.Action, call)
		text, ok := sdk.Parameters[field].(string)
		require.True(t, ok, "%s: %s", call, field)
		var rule map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &rule), call)
		return rule
	}
	return content("Create", "createApprovalRuleTemplate", "approvalRuleTemplateContent"),
		content("Update", "updateApprovalRuleTemplateContent", "newRuleContent")
}

// TestApprovalRuleProtectsTheBranch: the approval rule template guards the configured branch, and
// only a session of the check's own role can satisfy it, once; a stack update writes the same
// content.
func TestApprovalRuleProtectsTheBranch(t *testing.T) {
	for name, branch := range map[string]string{"default": "main", "regional": "develop"} {
		s := synth(t, name)
		create, update := approvalRule(t, s)
		assert.Equal(t, map[string]any{
			"Version":               "2018-11-08",
			"DestinationReferences": []any{"refs/heads/" + branch},
			"Statements": []any{map[string]any{
				"Type": "Approvers", "NumberOfApprovalsNeeded": 1.0,
				"ApprovalPoolMembers": []any{"arn:${AWS::Partition}:sts::${AWS::AccountId}:assumed-role/${PullRequestChecks/Project/Role}/*"},
			}},
		}, create, name)
		assert.Equal(t, create, update, "%s: an update writes the same rule", name)
	}
}

// TestProtectedBranchIsTheConfiguredOne: the operators' deny names the configured branch too.
func TestProtectedBranchIsTheConfiguredOne(t *testing.T) {
	s := synth(t, "regional")
	lines, err := s.Permissions("Operators/Group")
	require.NoError(t, err)
	var denies []string
	for _, l := range lines {
		if strings.HasPrefix(l, "Deny codecommit:CreateCommit") {
			denies = append(denies, l)
		}
	}
	require.Len(t, denies, 1)
	assert.True(t, strings.HasSuffix(denies[0], `"StringEqualsIfExists":{"codecommit:References":["refs/heads/develop"]}}`), denies[0])
}
