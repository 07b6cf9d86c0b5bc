package tier

import "testing"

func TestOn(t *testing.T) {
	for _, c := range []struct {
		deep, noSkip string
		want         bool
	}{{"", "", false}, {"1", "", true}, {"", "1", true}, {"1", "1", true}} {
		t.Setenv("CDK_PIPELINE_DEEP", c.deep)
		t.Setenv("CDK_PIPELINE_NO_SKIP", c.noSkip)
		if got := On(); got != c.want {
			t.Errorf("DEEP=%q NO_SKIP=%q: On() = %v, want %v", c.deep, c.noSkip, got, c.want)
		}
	}
}
