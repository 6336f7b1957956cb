package accounts

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateUsername(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"empty", "", false},
		{"2 characters", "ab", false},
		{"3 characters", "abc", true},
		{"32 characters", strings.Repeat("a", 32), true},
		{"33 characters", strings.Repeat("a", 33), false},
		{"every allowed class", "Az09_.-", true},
		{"only punctuation", "._-", true},
		{"space", "al ice", false},
		{"at sign", "alice@example", false},
		{"slash", "a/b", false},
		{"NUL byte", "ali\x00ce", false},
		{"newline", "alice\n", false},
		{"non-ASCII letter", "alicé", false},
		{"Cyrillic look-alike", "аlice", false}, // first letter is U+0430
		{"3 non-ASCII characters", "äöü", false},
		{"fullwidth letters", "ａｌｉ", false},
		{"invalid UTF-8", "ab\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateUsername(tt.input)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateUsername(%q): %v, want nil", tt.input, err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "username" || ve.Reason == "" {
				t.Fatalf("ValidateUsername(%q): %v, want a *ValidationError for username", tt.input, err)
			}
			if !errors.Is(err, ErrInvalidUsername) || errors.Is(err, ErrInvalidPassword) {
				t.Fatalf("errors.Is mismatch for %v", err)
			}
			if !strings.HasPrefix(err.Error(), "accounts: invalid username: ") {
				t.Fatalf("message %q", err)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"empty", "", false},
		{"7 bytes", "1234567", false},
		{"8 bytes", "12345678", true},
		{"72 bytes", strings.Repeat("p", 72), true},
		{"73 bytes", strings.Repeat("p", 73), false},
		{"spaces count", "        ", true},
		{"NUL bytes allowed", "pass\x00word", true},
		// Lengths are in bytes: "é" is 2 bytes, "€" 3, "😀" 4.
		{"4 two-byte characters = 8 bytes", "éééé", true},
		{"3 two-byte characters + 1 = 7 bytes", "ééé1", false},
		{"36 two-byte characters = 72 bytes", strings.Repeat("é", 36), true},
		{"24 three-byte characters = 72 bytes", strings.Repeat("€", 24), true},
		{"25 three-byte characters = 75 bytes", strings.Repeat("€", 25), false},
		{"18 emoji = 72 bytes", strings.Repeat("😀", 18), true},
		{"19 emoji = 76 bytes, 19 characters", strings.Repeat("😀", 19), false},
		{"2 emoji = 8 bytes", "😀😀", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePassword(tt.input)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidatePassword(%d bytes, %d runes): %v, want nil",
						len(tt.input), utf8.RuneCountInString(tt.input), err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "password" || !errors.Is(err, ErrInvalidPassword) {
				t.Fatalf("ValidatePassword(%d bytes): %v, want a *ValidationError for password", len(tt.input), err)
			}
			if tt.input != "" && strings.Contains(err.Error(), tt.input) {
				t.Fatalf("the error %q contains the password", err)
			}
		})
	}
}

// FuzzValidateUsername checks ValidateUsername against the rule stated
// character by character, and that its error never quotes the input.
func FuzzValidateUsername(f *testing.F) {
	for _, s := range []string{"", "ab", "abc", "Az09_.-", strings.Repeat("a", 33), "alicé", "a b c", "ab\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) >= MinUsernameLen && len(s) <= MaxUsernameLen
		for _, r := range s {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", r) {
				want = false
			}
		}
		err := ValidateUsername(s)
		if (err == nil) != want {
			t.Fatalf("ValidateUsername(%q) = %v, want ok=%v", s, err, want)
		}
		if err != nil && len(s) >= 4 && strings.Contains(err.Error(), s) {
			t.Fatalf("error %q quotes the input", err)
		}
	})
}
