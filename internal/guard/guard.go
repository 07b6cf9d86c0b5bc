// Package guard is how a construct refuses its props: before it creates anything, with one line
// that names the function and the prop, never a jsii trace. The checks it applies are the ones the
// settings contract applies (packages names, deploywindow, instancetype), so a value the app's
// settings refuse is refused by the library too, in the same words.
package guard

// Must panics with one line, "fn: err", when err is not nil.
func Must(fn string, err error) {
	if err != nil {
		panic(fn + ": " + err.Error())
	}
}

// Required panics with one line naming the prop when it is missing.
func Required(fn, prop string, missing bool) {
	if missing {
		panic(fn + ": props." + prop + " is required")
	}
}
