// Package federation is the pure compiler of a validated Federation: from the file it derives the
// desired resource set (firewall rules, master authorized networks, master global access, NAT
// regions, remote-secret pairs, mesh identity) and the human-readable reason each derived item
// exists. It does no I/O: live facts it needs (project numbers) are passed in.
package federation
