package h1

// validAuthority reports whether a is uri-host [ ":" port ] (RFC 3986
// §3.2.2 and §3.2.3, as RFC 9110 §7.2 uses them for Host, and RFC 9112
// §3.2 for absolute-form and authority-form), with a non-empty host:
//
//	uri-host   = IP-literal / reg-name     (IPv4address is a reg-name)
//	IP-literal = "[" IPv6address [ "%25" zone ] "]"   (RFC 6874 zones)
//	reg-name   = 1*( unreserved / sub-delims )
//	port       = *DIGIT, 1*DIGIT when needPort
//
// It is stricter than RFC 3986 in two ways, both for hosts no client
// sends: reg-name may not be percent-encoded, and IPvFuture is refused.
// A Host field is used to pick a virtual host and to build URLs, so
// anything ambiguous in it is a cache-poisoning or routing risk.
func validAuthority(a []byte, needPort bool) bool {
	var port []byte
	if len(a) > 0 && a[0] == '[' {
		end := -1
		for i, c := range a {
			if c == ']' {
				end = i
				break
			}
		}
		if end < 0 || !validIPLiteral(a[1:end]) {
			return false
		}
		a = a[end+1:]
		if len(a) > 0 {
			if a[0] != ':' {
				return false
			}
			port = a[1:]
		} else if needPort {
			return false
		}
	} else {
		i := 0
		for i < len(a) && isRegName(a[i]) {
			i++
		}
		if i == 0 {
			return false
		}
		if i < len(a) {
			if a[i] != ':' {
				return false
			}
			port = a[i+1:]
		} else if needPort {
			return false
		}
	}
	if needPort && len(port) == 0 {
		return false
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validIPLiteral checks what lies between the brackets of an IP-literal:
// an IPv6 address with an optional RFC 6874 zone.
func validIPLiteral(s []byte) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' {
			if s[i+1] != '2' || s[i+2] != '5' || !validZone(s[i+3:]) {
				return false
			}
			s = s[:i]
			break
		}
	}
	return validIPv6(s)
}

// validZone checks ZoneID = 1*( unreserved / pct-encoded ).
func validZone(z []byte) bool {
	if len(z) == 0 {
		return false
	}
	for i := 0; i < len(z); i++ {
		c := z[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		case c == '%' && i+2 < len(z) && isHex(z[i+1]) && isHex(z[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// validIPv6 checks the IPv6address rule of RFC 3986 §3.2.2: eight groups
// of 1 to 4 hex digits, at most one "::" standing for one or more zero
// groups, and optionally an IPv4 address as the last two groups.
func validIPv6(s []byte) bool {
	groups := 0
	ellipsis := false
	i := 0
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = true
		i = 2
	}
	for i < len(s) {
		j := i
		for j < len(s) && j-i < 5 && isHex(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '.' {
			if !validIPv4(s[i:]) {
				return false
			}
			groups += 2
			break
		}
		if j == i || j-i > 4 {
			return false
		}
		groups++
		i = j
		if i == len(s) {
			break
		}
		if s[i] != ':' {
			return false
		}
		i++
		if i < len(s) && s[i] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			i++
		} else if i == len(s) {
			return false // a single trailing colon
		}
	}
	if ellipsis {
		return groups <= 7
	}
	return groups == 8
}

// validIPv4 checks dotted-decimal IPv4, four dec-octets without leading
// zeros (RFC 3986 §3.2.2).
func validIPv4(s []byte) bool {
	for octet := 0; octet < 4; octet++ {
		if octet > 0 {
			if len(s) == 0 || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
		n, digits := 0, 0
		for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
			n = n*10 + int(s[digits]-'0')
			digits++
			if digits > 3 {
				return false
			}
		}
		if digits == 0 || n > 255 || digits > 1 && s[0] == '0' {
			return false
		}
		s = s[digits:]
	}
	return len(s) == 0
}
