// post.js: appended inside the Emscripten module factory (so PThread is in scope).
// In Node, the pre-started pthread pool workers would keep the process alive after the user's
// work is done; the JS wrapper unrefs them. The calling thread blocks on them synchronously
// while they compute, so an unref'd worker never misses work.
Module['wtUnrefWorkers'] = function () {
  if (typeof PThread === 'undefined') return 0;
  var all = PThread.unusedWorkers.concat(PThread.runningWorkers);
  all.forEach(function (w) { if (w && typeof w.unref === 'function') w.unref(); });
  return all.length;
};
