package deploywindow

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"* * 9-16 ? * MON-FRI":          "* * 9-16 ? * MON-FRI",
		"* * 9-16 ? * MON-FRI *":        "* * 9-16 ? * MON-FRI *",
		"cron(* 9-16 ? * MON-FRI *)":    "* * 9-16 ? * MON-FRI *",
		"  * 0/15 22-23 ? * 2,4,6 2027": "* 0/15 22-23 ? * 2,4,6 2027",
		"* * 8-18 1-15 JAN-MAR ?":       "* * 8-18 1-15 JAN-MAR ?",
		"* * * L * ?":                   "* * * L * ?",
		"* * * ? * 6L":                  "* * * ? * 6L",
	} {
		got, err := Parse(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for in, want := range map[string]string{
		"cron(0 9-16 ? * MON-FRI)":   "cron(...) takes 6 fields",
		"9-16 MON-FRI":               "use 6 or 7 fields",
		"0 * 9-16 ? * MON-FRI":       "the seconds field must be *",
		"* * 9-25 ? * MON-FRI":       "hours field \"9-25\": 25 is out of range 0-23",
		"* * 9-16 * * MON-FRI":       "exactly one of day-of-month and day-of-week must be ?",
		"* * 9-16 ? * MON-FRX":       `day-of-week field "MON-FRX": "FRX" is not a number or SUN-SAT`,
		"* ? 9-16 ? * MON":           "? is allowed in the day fields only",
		"* * 9-16 ? * MON; rm -rf /": "use 6 or 7 fields",
		// The other form's fields: each message says which form was meant.
		"cron(* * 9-16 ? * MON-FRI)": `month field "?": ? is allowed in the day fields only; inside cron(...) the fields are EventBridge's, minutes first: minutes hours day-of-month month day-of-week year, and these fields are a window in the DeploymentWindow form, seconds first ("* * 9-16 ? * MON-FRI"): write it without cron(...)`,
		"cron(* 9-16 ? * MON-FRX *)": `day-of-week field "MON-FRX": "FRX" is not a number or SUN-SAT; inside cron(...) the fields are EventBridge's, minutes first: minutes hours day-of-month month day-of-week year`,
		"0 9-16 ? * MON-FRI *":       `the seconds field must be *; these fields are a window in EventBridge's form, minutes first: write cron(0 9-16 ? * MON-FRI *)`,
	} {
		_, err := Parse(in)
		assert.ErrorContains(t, err, want, in)
		if !strings.Contains(want, "form") {
			assert.NotContains(t, err.Error(), "form", "%s: no hint of the other form when it would not help", in)
		}
	}
}

func TestTimeZone(t *testing.T) {
	assert.NoError(t, TimeZone("UTC"))
	assert.NoError(t, TimeZone("Europe/Paris"))
	assert.EqualError(t, TimeZone("Mars/Olympus"), `"Mars/Olympus" is not an IANA time zone name such as UTC or Europe/Paris`)
	assert.Error(t, TimeZone("Local"))
}
