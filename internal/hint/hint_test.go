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
	assert.NoError(t, OneOf("b", []string{"a", "b"}, "a letter"))
	assert.EqualError(t, OneOf("c", []string{"a", "b"}, "a letter"), `"c" is not a letter; use a, b`)
}

func TestShow(t *testing.T) {
	assert.Equal(t, `"a\x1bb"`, Show("a\x1bb"))
	assert.Equal(t, `{"a":1}`, Show(map[string]any{"a": 1}))
	long := Show(strings.Repeat("x", 100))
	assert.True(t, strings.HasSuffix(long, "…(102 characters)"), long)
}
