// --illegal-native-access=deny: the README's flags are exactly enough, and a backend denied native
// access reports itself unusable with the flag to add.
// Each run's output, stdout and stderr: target/RUN.log. A run prints its facts and nothing else (no
// JVM warning about native access, Unsafe or unknown modules, no stack trace).
def run = { String label ->
  def lines = new File(basedir, "target/${label}.log").readLines()
  def other = lines.findAll { !it.startsWith(label + ': ') }
  assert other.isEmpty() : "${label} printed more than its facts (is a flag missing?):\n${other.join('\n')}"
  lines.collect { it.substring(label.length() + 2) }
}
def ran = ' ran [first 42, second 7]'
def allThree = ['backend ffm available', 'backend jnr available', 'backend jna available',
                'registry ffm', 'ffm' + ran, 'ffm' + ran, 'jnr' + ran, 'jna' + ran]

def cpDenied = run('cp-denied')
['ffm', 'jnr', 'jna'].eachWithIndex { name, i ->
  def line = cpDenied[i + 1]
  assert line.startsWith("backend ${name} unavailable: the JVM denies native access to the class path") : cpDenied
  assert line.contains('run with --enable-native-access=ALL-UNNAMED') : cpDenied
}
assert cpDenied[4].startsWith('WeaveException: no usable weave backend') : cpDenied

def cpGranted = run('cp-granted')
assert cpGranted[0] ==~ /java \d+ class path/ && cpGranted.drop(1) == allThree : cpGranted

def mpGranted = run('mp-granted')
assert mpGranted[0] ==~ /java \d+ module path \[dev.weave, dev.weave.ffm, dev.weave.jna, dev.weave.jnr\]/ : mpGranted
assert mpGranted.drop(1) == allThree : mpGranted

def mpDenied = run('mp-denied')
[ffm: 'dev.weave.ffm', jnr: 'org.jnrproject.jffi', jna: 'com.sun.jna'].eachWithIndex { name, module, i ->
  def line = mpDenied[i + 1]
  assert line.startsWith("backend ${name} unavailable: the JVM denies native access to module ${module}") : mpDenied
  assert line.contains("run with --enable-native-access=${module}") : mpDenied
}
assert mpDenied[4].startsWith('WeaveException: no usable weave backend') : mpDenied

def jnaDenied = run('mp-jna-denied')
assert jnaDenied[1].startsWith('backend ffm unavailable: the JVM denies native access to module dev.weave.ffm') : jnaDenied
assert jnaDenied[1].contains('run with --enable-native-access=dev.weave.ffm') : jnaDenied
assert jnaDenied[2] == 'backend jnr available' : jnaDenied
assert jnaDenied[3].startsWith('backend jna unavailable: the JVM denies native access to module com.sun.jna') : jnaDenied
assert jnaDenied[3].contains('run with --enable-native-access=com.sun.jna') : jnaDenied
def message = jnaDenied[4]
assert message.startsWith("WeaveException: weave backend 'jna' is unusable here: the JVM denies native access to module com.sun.jna") : jnaDenied
assert message.contains('usable: jnr;') : jnaDenied
