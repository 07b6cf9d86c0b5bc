// Package hint writes the parts of an error message that show a value and suggest what was meant:
// a raw value quoted and cut short, and the nearest of the allowed words to a likely typo.
//
// The checks that the settings contract and the construct packages share (packages names,
// deploywindow and instancetype) return nil or one error that describes the value and what is
// wrong with it, without naming a setting: package settings prefixes the setting ("fleetSize:
// ..."), a construct package its function ("notification.Subscribe: ..."). It is pure Go and
// never starts jsii.
package hint

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Show renders a raw value for an error message: quoted, escaped and cut short, so that control
// characters and huge values cannot garble the terminal.
func Show(raw any) string {
	var s string
	switch v := raw.(type) {
	case string:
		s = strconv.QuoteToASCII(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		s = string(b)
	}
	const limit = 80
	if len(s) > limit {
		s = s[:limit] + fmt.Sprintf("…(%d characters)", len(s))
	}
	return s
}

// Nearest returns the candidate closest to word, ignoring case, '_' and '-', when it is close
// enough to be a likely typo, and "" otherwise. A word also matches the start of a longer
// candidate ("aprovers" is near "approverEmails").
func Nearest(word string, candidates []string) string {
	norm := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '_' || r == '-' {
				return -1
			}
			return unicode.ToLower(r)
		}, s)
	}
	w := norm(word)
	best, bestDistance := "", 0
	for _, c := range candidates {
		nc := norm(c)
		d := distance(w, nc)
		// The start of a longer candidate, as long as the word give or take a character.
		for n := len(w) - 1; len(w) >= 4 && n <= len(w)+1; n++ {
			if n > 0 && n < len(nc) {
				d = min(d, distance(w, nc[:n]))
			}
		}
		if best == "" || d < bestDistance {
			best, bestDistance = c, d
		}
	}
	// One edit in three characters, and at least two, is what a slip of the fingers makes.
	if best == "" || bestDistance > max(2, len(word)/3) {
		return ""
	}
	return best
}

// distance is the Damerau-Levenshtein distance (optimal string alignment): a swap of two
// neighbouring characters, the commonest typo, counts as one edit.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// OneOf returns an error unless value is one of allowed, naming what the value should be, and the
// allowed value it likely meant: the same in another letter case, or a typo of it.
func OneOf[T ~string](value T, allowed []T, what string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	err := fmt.Errorf("%s is not %s; use %s", Show(string(value)), what, Joined(allowed))
	words := make([]string, len(allowed))
	for i, a := range allowed {
		words[i] = string(a)
	}
	if near := Nearest(string(value), words); near != "" {
		err = fmt.Errorf("%w; did you mean %s?", err, near)
	}
	return err
}

// Joined lists items for a message: "a, b, c".
func Joined[T ~string](items []T) string {
	names := make([]string, len(items))
	for i, item := range items {
		names[i] = string(item)
	}
	return strings.Join(names, ", ")
}
