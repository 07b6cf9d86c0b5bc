package instancetype

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"t3.micro", "t3a.large", "m7i.xlarge", "c5.24xlarge", "m5.metal"} {
		assert.NoError(t, Check(ok), ok)
	}
	for typ, want := range map[string]string{
		"big":          `"big" is not an EC2 instance type such as t3.micro`,
		"t3.mirco":     `no instance size "mirco"; did you mean t3.micro?`,
		"t3.hugeous":   `no instance size "hugeous"`,
		"t4g.micro":    "is an Arm (Graviton) type",
		"a1.large":     "is an Arm (Graviton) type",
		"c7gn.large":   "is an Arm (Graviton) type",
		"u-6tb1.metal": "runs only on dedicated hosts",
		"mac1.metal":   "runs only on dedicated hosts",
		"T3.MICRO":     `"T3.MICRO" is not an EC2 instance type: they are written in lowercase; did you mean t3.micro?`,
		"T4G.MICRO":    `"T4G.MICRO" is not an EC2 instance type such as t3.micro`,
	} {
		err := Check(typ)
		if assert.Error(t, err, typ) {
			assert.Contains(t, err.Error(), want, typ)
		}
	}
}
