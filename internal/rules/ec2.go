package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

var instanceTypeRE = regexp.MustCompile(`^([a-z0-9-]+)\.([a-z0-9-]+)$`)

// InstanceType checks an EC2 instance type for the fleet: a family and a size that aws-cdk-lib
// knows (ec2types.go), on x86_64, because the fleet runs x86_64 Amazon Linux 2023 and an amd64
// build. A likely typo gets a suggestion.
func InstanceType(s string) error {
	m := instanceTypeRE.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("%s is not an EC2 instance type such as t3.micro", Show(s))
	}
	family, size := m[1], m[2]
	arch, knownFamily := ec2Families[family]
	if !knownFamily {
		return unknown(s, "family", family, family, size, sortedNames(ec2Families))
	}
	if !ec2Sizes[size] {
		return unknown(s, "size", size, family, size, sortedNames(ec2Sizes))
	}
	switch {
	case arch == "" || strings.HasPrefix(family, "mac"):
		return fmt.Errorf("%s runs only on dedicated hosts, which an Auto Scaling fleet of Amazon Linux 2023 cannot use; use an x86_64 type such as t3.micro", Show(s))
	case arch != "X86_64":
		return fmt.Errorf("%s is an Arm (Graviton) type; the fleet runs x86_64 Amazon Linux 2023 and an amd64 build, so use an x86_64 type such as t3.micro", Show(s))
	}
	return nil
}

// unknown reports a family or size that aws-cdk-lib does not know, suggesting the nearest one.
func unknown(s, part, value, family, size string, known []string) error {
	err := fmt.Errorf("%s is not an EC2 instance type: no instance %s %q", Show(s), part, value)
	if near := Nearest(value, known); near != "" {
		if part == "family" {
			family = near
		} else {
			size = near
		}
		err = fmt.Errorf("%w; did you mean %s.%s?", err, family, size)
	}
	return err
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
