package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLayout(t *testing.T) {
	p, err := Seeded.Path(UnitFile)
	assert.NoError(t, err)
	assert.Equal(t, "scripts/sample-app.service", p)
	assert.Equal(t, UnitFile, Seeded.Local(p))
	p, err = Seeded.Path(ChangeFile)
	assert.NoError(t, err)
	assert.Equal(t, "E2E.md", p)

	// The self-updating pipeline's layout (issue 23): the app at the root.
	selfUpdate := Layout{SeedDir: "."}
	p, err = selfUpdate.Path(UnitFile)
	assert.NoError(t, err)
	assert.Equal(t, "sample-app/scripts/sample-app.service", p)
	assert.Equal(t, "main.go", selfUpdate.Local("main.go"))

	_, err = Seeded.Path("main.go")
	assert.EqualError(t, err, `layout: "main.go" is outside the seed folder "sample-app", so it is not in the repository`)
	_, err = Seeded.Path("sample-app-other/x")
	assert.Error(t, err)
	_, err = Seeded.Path("../x")
	assert.Error(t, err)
	_, err = selfUpdate.Path("/etc/passwd")
	assert.Error(t, err)
}
