package review_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jitkey/jitkey/internal/review"
)

func TestCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, code, cell string }{
		{"plain", "`plain`", "`plain`"},
		{"", "` `", "` `"},
		{"a`b", "``a`b``", "``a`b``"},
		{"``x", "``` ``x ```", "``` ``x ```"},
		{"x`", "`` x` ``", "`` x` ``"},
		{" pad ", "`  pad  `", "`  pad  `"},
		{"a|b", "`a|b`", "`a\\|b`"},
		{"line\nbreak\r\nand\rcr", "`line break and cr`", "`line break and cr`"},
		{"@acme/t [x](https://e.example) <!--", "`@acme/t [x](https://e.example) <!--`", "`@acme/t [x](https://e.example) <!--`"},
	} {
		assert.Equal(t, tc.code, review.Code(tc.in), "%q", tc.in)
		assert.Equal(t, tc.cell, review.Cell(tc.in), "%q", tc.in)
	}
}
