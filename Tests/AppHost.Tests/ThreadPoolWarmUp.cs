using System.Runtime.CompilerServices;

namespace AppHost.Tests;

internal static class ThreadPoolWarmUp
{
    // The pool starts with one thread per core (two here), and tests block some synchronously (process
    // waits, bUnit waits, fixtures): with a few more threads from the start, a busy machine does not
    // starve the heartbeats and timers the tests wait on.
    [ModuleInitializer]
    internal static void Initialize() => ThreadPool.SetMinThreads(32, 32);
}
