package session

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"fencelab/machine"
)

// Limits on what a link may carry. MaxLink bounds the whole encoded
// query, which a recording's header carries (timeline.MaxHeaderLine is
// above it).
const (
	MaxArgs     = 64
	MaxArgLen   = 4096
	MaxStdin    = 64 << 10
	MaxGuestLen = 64
	MaxLink     = 256 << 10
)

// Link is the spec's query, encoded, or an error if it is longer than
// MaxLink (a script and arguments of non-ASCII bytes can triple).
func (s Spec) Link() (string, error) {
	q := s.Query().Encode()
	if len(q) > MaxLink {
		return "", fmt.Errorf("link: %d bytes encoded; at most %d (a shorter script or fewer arguments)", len(q), MaxLink)
	}
	return q, nil
}

// Query is the spec as a link's query: guest=NAME, one arg=A per
// argument, stdin=TEXT, seed=N and config=JSON (the other options, as
// machine.ParseOptions reads them). Empty parts are left out. Encode
// sorts the keys, so a spec has one link.
func (s Spec) Query() url.Values {
	v := url.Values{}
	v.Set("guest", s.Guest)
	for _, a := range s.Args {
		v.Add("arg", a)
	}
	if s.Stdin != "" {
		v.Set("stdin", s.Stdin)
	}
	o := s.Options
	if o.Seed != 0 {
		v.Set("seed", strconv.FormatUint(o.Seed, 10))
		o.Seed = 0
	}
	if b, _ := json.Marshal(o); string(b) != "{}" {
		v.Set("config", string(b))
	}
	return v
}

// ParseQuery reads a spec from a link's query (Query's form). Keys it
// does not know, repeated keys other than arg, and anything past the
// limits are errors; the options are checked as machine.Options.Config
// checks them.
func ParseQuery(v url.Values) (Spec, error) {
	var s Spec
	if n := len(v.Encode()); n > MaxLink {
		return Spec{}, fmt.Errorf("link: %d bytes encoded; at most %d", n, MaxLink)
	}
	for k, vs := range v {
		switch k {
		case "guest", "stdin", "seed", "config":
			if len(vs) != 1 {
				return Spec{}, fmt.Errorf("link: %s given %d times", k, len(vs))
			}
		case "arg":
		default:
			return Spec{}, fmt.Errorf("link: unknown key %q (guest, arg, stdin, seed, config)", k)
		}
	}
	s.Guest = v.Get("guest")
	if s.Guest == "" || len(s.Guest) > MaxGuestLen {
		return Spec{}, fmt.Errorf("link: guest must be a name of 1 to %d bytes", MaxGuestLen)
	}
	s.Args = v["arg"]
	if len(s.Args) > MaxArgs {
		return Spec{}, fmt.Errorf("link: %d args; at most %d", len(s.Args), MaxArgs)
	}
	for _, a := range s.Args {
		if len(a) > MaxArgLen {
			return Spec{}, fmt.Errorf("link: an arg of %d bytes; at most %d", len(a), MaxArgLen)
		}
	}
	s.Stdin = v.Get("stdin")
	if len(s.Stdin) > MaxStdin {
		return Spec{}, fmt.Errorf("link: stdin of %d bytes; at most %d", len(s.Stdin), MaxStdin)
	}
	if c := v.Get("config"); c != "" {
		o, err := machine.ParseOptions([]byte(c))
		if err != nil {
			return Spec{}, fmt.Errorf("link: config: %w", err)
		}
		if o.Seed != 0 {
			return Spec{}, fmt.Errorf("link: config: the seed goes in seed=, not in the config")
		}
		s.Options = o
	}
	if seed := v.Get("seed"); seed != "" {
		n, err := strconv.ParseUint(seed, 10, 64)
		if err != nil {
			return Spec{}, fmt.Errorf("link: seed %q is not a number from 0 to 2^64-1", seed)
		}
		s.Options.Seed = n
	}
	if _, err := s.Options.Config(); err != nil {
		return Spec{}, fmt.Errorf("link: config: %w", err)
	}
	return s, nil
}
