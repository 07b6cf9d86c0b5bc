// Package deploywindow checks deployment windows: the cron dialect of CodePipeline's
// DeploymentWindow rule (and EventBridge's cron(...) form, which it converts), and the window's
// IANA time zone. It is pure Go and never starts jsii.
package deploywindow

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones are checked the same on every machine, with or without a zoneinfo database

	"github.com/pipekit/cdk-pipeline/internal/hint"
)

// Parse checks a deployment window and returns it in the form of CodePipeline's
// DeploymentWindow rule: seconds minutes hours day-of-month month day-of-week [year], where seconds
// can only be "*" and one of the two day fields must be "?". The EventBridge form
// cron(minutes hours day-of-month month day-of-week year) is accepted too and converted.
//
// A window is a set of minutes, not a schedule: "* 9-16" is every minute from 09:00 to 16:59,
// while "0 9-16" would open the window for the first minute of each hour only.
func Parse(expr string) (string, error) { return parse(expr, true) }

// parse is Parse; hints says whether a message may try the other form.
func parse(expr string, hints bool) (string, error) {
	e := strings.TrimSpace(expr)
	inner, cron := strings.CutPrefix(e, "cron(")
	inner, closed := strings.CutSuffix(inner, ")")
	cron = cron && closed
	// The two forms differ by one leading field, so a field error in one often means the other
	// form was meant: say so when the same fields make a valid window in the other form.
	bad := func(format string, args ...any) (string, error) {
		msg := fmt.Sprintf(format, args...)
		if cron {
			msg += "; inside cron(...) the fields are EventBridge's, minutes first: minutes hours day-of-month month day-of-week year"
		}
		if !hints {
			return "", errors.New(msg)
		}
		if cron {
			if w, err := parse(inner, false); err == nil {
				msg += fmt.Sprintf(", and these fields are a window in the DeploymentWindow form, seconds first (%s): write it without cron(...)", hint.Show(w))
			}
		} else if _, err := parse("cron("+e+")", false); err == nil {
			msg += "; these fields are a window in EventBridge's form, minutes first: write cron(" + e + ")"
		}
		return "", fmt.Errorf("%s is not a deployment window: %s", hint.Show(expr), msg)
	}
	var fields []string
	if cron {
		fields = strings.Fields(inner)
		if len(fields) != 6 {
			return bad("cron(...) takes 6 fields (minutes hours day-of-month month day-of-week year), not %d", len(fields))
		}
		fields = append([]string{"*"}, fields...)
	} else {
		fields = strings.Fields(e)
		if len(fields) != 6 && len(fields) != 7 {
			return bad("use 6 or 7 fields: seconds minutes hours day-of-month month day-of-week [year], for example \"* * 9-16 ? * MON-FRI\"")
		}
	}
	if fields[0] != "*" {
		return bad("the seconds field must be *")
	}
	names := []string{"seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year"}
	for i := 1; i < len(fields); i++ {
		if err := windowField(i, fields[i]); err != nil {
			return bad("%s field %s: %v", names[i], hint.Show(fields[i]), err)
		}
	}
	if (fields[3] == "?") == (fields[5] == "?") {
		return bad("exactly one of day-of-month and day-of-week must be ?")
	}
	return strings.Join(fields, " "), nil
}

var (
	months   = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	weekdays = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
	// windowTermRE is one term of a field: a value or range, with an optional step, or a
	// day-field special (L, W, #).
	windowTermRE = regexp.MustCompile(`^(\*|[0-9A-Z]+(-[0-9A-Z]+)?)(/[0-9]+)?$`)
)

// windowField checks field i (1 minutes ... 6 year) of a DeploymentWindow expression, with the
// values and special characters the rule's reference allows.
func windowField(i int, f string) error {
	lo, hi := []int{0, 0, 0, 1, 1, 1, 1970}[i], []int{0, 59, 23, 31, 12, 7, 2199}[i]
	if f == "?" {
		if i == 3 || i == 5 {
			return nil
		}
		return fmt.Errorf("? is allowed in the day fields only")
	}
	if i == 3 && (f == "L" || f == "LW" || strings.HasPrefix(f, "L-") || strings.HasSuffix(f, "W")) {
		return nil
	}
	if i == 5 && (strings.HasSuffix(f, "L") || strings.Contains(f, "#")) {
		return nil
	}
	for _, term := range strings.Split(f, ",") {
		m := windowTermRE.FindStringSubmatch(strings.ToUpper(term))
		if m == nil {
			return fmt.Errorf("%s is not a value, a range a-b, or a step x/n", hint.Show(term))
		}
		if m[1] == "*" {
			continue
		}
		a, b, _ := strings.Cut(m[1], "-")
		for _, v := range []string{a, b} {
			if v == "" {
				continue
			}
			n, err := windowValue(i, v)
			if err != nil {
				return err
			}
			if n < lo || n > hi {
				return fmt.Errorf("%d is out of range %d-%d", n, lo, hi)
			}
		}
	}
	return nil
}

func windowValue(i int, v string) (int, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return n, nil
	}
	names := map[int][]string{4: months, 5: weekdays}[i]
	for j, name := range names {
		if v == name {
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%s is not a number%s", hint.Show(v), map[int]string{4: " or JAN-DEC", 5: " or SUN-SAT"}[i])
}

// TimeZone checks an IANA time zone name, such as Europe/Paris or UTC.
func TimeZone(name string) error {
	if name == "" || name == "Local" {
		return fmt.Errorf("%s is not an IANA time zone name such as UTC or Europe/Paris", hint.Show(name))
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("%s is not an IANA time zone name such as UTC or Europe/Paris", hint.Show(name))
	}
	return nil
}
