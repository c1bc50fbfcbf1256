// The recipe worked if Surefire found the TCK in the weave-tck jar, ran it on the "stranger"
// backend, and every case passed.
def log = new File(basedir, 'build.log').text
assert log.contains('BUILD SUCCESS') : 'the build failed'
def summary = log.readLines().find { it =~ /Tests run: \d+, Failures: 0, Errors: 0, Skipped: \d+.*WeaveTckTest/ }
assert summary != null : 'no passing run of WeaveTckTest in build.log'
def report = new File(basedir, 'target/surefire-reports/TEST-dev.weave.tck.WeaveTckTest.xml')
assert report.isFile() : "no Surefire report at ${report}"
def xml = report.text
def suite = (xml =~ /<testsuite\b[^>]*>/)[0]
int tests = (suite =~ /\btests="(\d+)"/)[0][1].toInteger()
assert tests >= 30 : "only ${tests} TCK cases ran: was the stranger backend found?"
assert (suite =~ /\bfailures="0"/).find() && (suite =~ /\berrors="0"/).find() : suite
// one container per backend found, and only "stranger" is selected: 30+ cases means it was found
println "backend-of-ones-own: ${summary.trim()}; ${tests} TCK cases in the report"
return true
