package sweep

import (
	"strings"

	"github.com/pipekit/cdk-pipeline/settings"
)

// Check parses ctx as the app does (see main.go): the settings, then what the stack's account and
// region allow, known when pinned. It returns the settings and every problem.
func Check(ctx map[string]any, pinned bool) (settings.Settings, error) {
	s, err := settings.Parse(ctx)
	if err != nil {
		return s, err
	}
	account, region := "", ""
	if pinned {
		account, region = PipelineAccount, PipelineRegion
		if err := s.CheckPlace(account, region); err != nil {
			return s, err
		}
	}
	return s, s.CheckEnvironments(account, region)
}

// Lines splits a joined error into its lines, one per problem.
func Lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// SettingsProblems counts the problems Check finds: Cover's measure of a configuration.
func SettingsProblems(ctx map[string]any, pinned bool) int {
	_, err := Check(ctx, pinned)
	return len(Lines(err))
}
