package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of a token header or claims set. Genuine access tokens
// nest two or three levels; anything far deeper is refused before it costs anything.
const maxJSONDepth = 32

var (
	errDuplicateMember = errors.New("duplicate JSON member name")
	errTooDeep         = errors.New("JSON nested too deeply")
	errNotObject       = errors.New("JSON value is not an object")
	errBadUTF8         = errors.New("JSON text is not valid UTF-8")
	errTrailingData    = errors.New("data after the JSON value")
)

// parseStrictObject decodes one JSON object. Unlike encoding/json.Unmarshal, it refuses
// duplicate member names at any depth (RFC 7515 section 5.2, RFC 8725 section 3.10: the
// values a validator checks and the values it uses must be the same members), invalid
// UTF-8 (RFC 8259 section 8.1; encoding/json would silently replace it), nesting deeper
// than maxDepth, and trailing data. Numbers stay json.Number, so a NumericDate is never
// confused with a numeric string and huge values are not rounded before they are checked.
func parseStrictObject(data []byte, maxDepth int) (map[string]interface{}, error) {
	if !utf8.Valid(data) {
		return nil, errBadUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSONValue(dec, 0, maxDepth)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]interface{})
	if !ok {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingData
	}
	return obj, nil
}

func readJSONValue(dec *json.Decoder, depth, maxDepth int) (interface{}, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth+1 > maxDepth {
			return nil, errTooDeep
		}
		switch t {
		case '{':
			obj := make(map[string]interface{})
			for dec.More() {
				ktok, err := dec.Token()
				if err != nil {
					return nil, err
				}
				name, ok := ktok.(string)
				if !ok {
					return nil, errors.New("object member name is not a string")
				}
				if _, dup := obj[name]; dup {
					return nil, errDuplicateMember
				}
				val, err := readJSONValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				obj[name] = val
			}
			if end, err := dec.Token(); err != nil || end != json.Delim('}') {
				return nil, errors.New("unterminated object")
			}
			return obj, nil
		case '[':
			arr := []interface{}{}
			for dec.More() {
				val, err := readJSONValue(dec, depth+1, maxDepth)
				if err != nil {
					return nil, err
				}
				arr = append(arr, val)
			}
			if end, err := dec.Token(); err != nil || end != json.Delim(']') {
				return nil, errors.New("unterminated array")
			}
			return arr, nil
		default:
			return nil, errors.New("unexpected delimiter")
		}
	default:
		// string, json.Number, bool or nil
		return t, nil
	}
}
