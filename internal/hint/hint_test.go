package hint

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNearest(t *testing.T) {
	keys := []string{"approval", "approverEmails", "fleetSize", "notifications", "instanceType"}
	for word, want := range map[string]string{
		"aproval": "approval", "fleetsize": "fleetSize", "fleet_size": "fleetSize", "notification": "notifications",
		"aprovers": "approverEmails", "intsanceType": "instanceType", "colour": "", "x": "",
	} {
		assert.Equal(t, want, Nearest(word, keys), word)
	}
}

func TestOneOf(t *testing.T) {
	assert.NoError(t, OneOf("beta", []string{"alpha", "beta"}, "a letter"))
	assert.EqualError(t, OneOf("gamma", []string{"alpha", "beta"}, "a letter"), `"gamma" is not a letter; use alpha, beta`)
	assert.EqualError(t, OneOf("Fleet", []string{"fleet", "instances"}, "a target"), `"Fleet" is not a target; use fleet, instances; did you mean fleet?`)
	assert.EqualError(t, OneOf("HalfAtTime", []string{"OneAtATime", "HalfAtATime"}, "a configuration"), `"HalfAtTime" is not a configuration; use OneAtATime, HalfAtATime; did you mean HalfAtATime?`)
}

func TestShow(t *testing.T) {
	assert.Equal(t, `"a\x1bb"`, Show("a\x1bb"))
	assert.Equal(t, `{"a":1}`, Show(map[string]any{"a": 1}))
	long := Show(strings.Repeat("x", 100))
	assert.True(t, strings.HasSuffix(long, "…(102 characters)"), long)
}
