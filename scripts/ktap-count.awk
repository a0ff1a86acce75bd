# SPDX-License-Identifier: GPL-2.0
#
# Counts a guest log's KTAP results once each, at their own level, for
# scripts/test.sh. The guest's suite nests memdriver_test's KTAP in its own
# ("# ok 3 - case" inside "ok 81 - guest: ..."): a result with results
# nested right before it is a wrapper, not a check, and counts only when it
# failed while none of its own results did (memdriver_test died between
# cases, say). A run that printed fewer results than its plan ("1..N",
# before or after them) counts once more for the cases it never ran, named
# by the case it was in (the harness's "# RUN name") or the last it ran.
#
# Prints one line per counted result, "P name", "F name", "S name"
# (skipped: the guest lacks something) or "L name" (skipped as not for
# this load of the module: it must pass in another section instead, and
# counts as neither), and the totals last: "= passed failed skipped".

function reset_below(d,   i) {
	for (i = d + 1; i <= maxd; i++) {
		kids[i] = 0
		kbad[i] = 0
		plan[i] = 0
		ran[i] = 0
		running[i] = ""
	}
}

function emit(v, name) {
	print v " " name
	total[v]++
}

# Results missing at depth d: the run planned more than it printed. The
# harness's "# RUN name" before each case names the one that never ended.
function missing(d) {
	if (plan[d] > ran[d])
		emit("F", (plan[d] - ran[d]) " of " plan[d] " planned cases never ran" \
		     (running[d] != "" ? ", from " running[d] : \
		      ran[d] ? ", after " last[d] : ""))
	plan[d] = 0
	ran[d] = 0
	running[d] = ""
}

{
	line = $0
	d = 0
	while (substr(line, 1, 2) == "# ") {
		d++
		line = substr(line, 3)
	}
	if (d > maxd)
		maxd = d
}

line ~ /^RUN / && d > 0 {
	running[d - 1] = substr(line, 5)
	next
}

# A plan before its results (memdriver_test's) or after them (suite.sh's).
line ~ /^1\.\.[0-9]+$/ {
	if (plan[d] || !ran[d]) {
		missing(d)
		plan[d] = substr(line, 4) + 0
	} else {
		plan[d] = substr(line, 4) + 0
		missing(d)
	}
	next
}

line ~ /^(not )?ok [0-9]+ - / {
	failed = line ~ /^not ok/
	name = line
	sub(/^(not )?ok [0-9]+ - /, "", name)
	if (kids[d + 1]) {
		for (i = maxd; i > d; i--)
			missing(i)
		if (failed && !kbad[d + 1])
			emit("F", name)
	} else {
		verdict = failed ? "F" : name ~ / # SKIP not for this load: / ? "L" : \
			  name ~ / # SKIP/ ? "S" : "P"
		emit(verdict, name)
	}
	reset_below(d)
	running[d] = ""
	kids[d]++
	kbad[d] += failed
	ran[d]++
	last[d] = name
}

END {
	for (i = maxd; i >= 0; i--)
		missing(i)
	print "= " total["P"] + 0 " " total["F"] + 0 " " total["S"] + 0
}
