package stacks_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestDeliveryMetricsInputs: the delivery metrics read the stack's repository, watch the alarms of
// the environments in the pipeline's stack (the fleet's two; Elastic Beanstalk has none to watch),
// and archive their events for metricsArchiveDays.
func TestDeliveryMetricsInputs(t *testing.T) {
	s := synth(t, "default")
	vars := func(s map[string]map[string]any) map[string]any {
		for id, r := range s {
			if len(id) > 16 && id[:16] == "DeliveryFunction" {
				return r["Properties"].(object)["Environment"].(object)["Variables"].(object)
			}
		}
		return nil
	}(s.Resources("AWS::Lambda::Function"))
	assert.Equal(t, object{"Ref": "SourceRepository74575110"}, stripGetAtt(vars["REPOSITORY"]))
	alarms := toJSON(vars["ALARMS"])
	assert.Contains(t, alarms, `{\"Deploy\":[\"`)
	assert.Regexp(t, `"Ref":"FleetServerErrors[0-9A-F]{8}".*"Ref":"FleetSlowResponses[0-9A-F]{8}"`, alarms)
	s.Has(t, "AWS::Events::Archive", object{"RetentionDays": 400})
	s.Has(t, "AWS::IAM::Policy", object{"PolicyDocument": objectLike(object{"Statement": arrayWith(exact(object{
		"Action": "codecommit:GetCommit", "Effect": "Allow", "Resource": object{"Fn::GetAtt": []any{"SourceRepository74575110", "Arn"}},
	}))}), "Roles": []any{object{"Ref": anyValue()}}})

	b := synth(t, "beanstalk")
	assert.NotContains(t, b.Text(), `"ALARMS"`)
}

// stripGetAtt reads a repository's name whichever way the template refers to it.
func stripGetAtt(v any) any {
	if m, ok := v.(object); ok {
		if att, ok := m["Fn::GetAtt"].([]any); ok && len(att) == 2 && att[1] == "Name" {
			return object{"Ref": att[0]}
		}
	}
	return v
}
