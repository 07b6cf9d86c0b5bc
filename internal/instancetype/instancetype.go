// Package instancetype checks the EC2 instance type of a fleet against the families and sizes
// aws-cdk-lib knows, in pure Go: table.go is generated from aws-cdk-go's InstanceClass and
// InstanceSize (go generate ./internal/instancetype after upgrading aws-cdk-go; its test fails
// until then).
package instancetype

//go:generate go run ./gen table.go

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/hint"
)

var instanceTypeRE = regexp.MustCompile(`^([a-z0-9-]+)\.([a-z0-9-]+)$`)

// Check checks an EC2 instance type for the fleet: a family and a size that aws-cdk-lib knows
// (table.go), on x86_64, because the fleet runs x86_64 Amazon Linux 2023 and an amd64
// build. A likely typo gets a suggestion.
func Check(s string) error {
	m := instanceTypeRE.FindStringSubmatch(s)
	if m == nil {
		if lower := strings.ToLower(s); lower != s && Check(lower) == nil {
			return fmt.Errorf("%s is not an EC2 instance type: they are written in lowercase; did you mean %s?", hint.Show(s), lower)
		}
		return fmt.Errorf("%s is not an EC2 instance type such as t3.micro", hint.Show(s))
	}
	family, size := m[1], m[2]
	arch, knownFamily := ec2Families[family]
	if !knownFamily {
		return unknown(s, "family", family, family, size, slices.Sorted(maps.Keys(ec2Families)))
	}
	if !ec2Sizes[size] {
		return unknown(s, "size", size, family, size, slices.Sorted(maps.Keys(ec2Sizes)))
	}
	switch {
	case arch == "" || strings.HasPrefix(family, "mac"):
		return fmt.Errorf("%s runs only on dedicated hosts, which an Auto Scaling fleet of Amazon Linux 2023 cannot use; use an x86_64 type such as t3.micro", hint.Show(s))
	case arch != "X86_64":
		return fmt.Errorf("%s is an Arm (Graviton) type; the fleet runs x86_64 Amazon Linux 2023 and an amd64 build, so use an x86_64 type such as t3.micro", hint.Show(s))
	}
	return nil
}

// unknown reports a family or size that aws-cdk-lib does not know, suggesting the nearest one.
func unknown(s, part, value, family, size string, known []string) error {
	err := fmt.Errorf("%s is not an EC2 instance type: no instance %s %q", hint.Show(s), part, value)
	if near := hint.Nearest(value, known); near != "" {
		if part == "family" {
			family = near
		} else {
			size = near
		}
		err = fmt.Errorf("%w; did you mean %s.%s?", err, family, size)
	}
	return err
}
