using System.Runtime.CompilerServices;

namespace KafkaConsumerProxy.Files;

/// <summary>
/// Keeps the steps that wait for the disk (an <c>fsync</c>, a locked append) off the runtime's socket threads. With
/// <c>socket_completions: inline</c> the code after an endpoint's answer runs on the socket thread that read it, a thread
/// that serves many connections: such a step first moves to the thread pool (<c>await BlockingStep.OffSocketThread()</c>).
/// On a thread-pool thread it goes on at once, so in the runtime's default mode it costs nothing.
/// </summary>
internal static class BlockingStep
{
    /// <summary>Continues on a thread-pool thread: at once when already on one, else through the pool's queue.</summary>
    public static OffSocketThreadAwaitable OffSocketThread() => default;

    /// <summary>The awaitable of <see cref="OffSocketThread"/>.</summary>
    internal readonly struct OffSocketThreadAwaitable : ICriticalNotifyCompletion
    {
        public OffSocketThreadAwaitable GetAwaiter() => this;

        public bool IsCompleted => Thread.CurrentThread.IsThreadPoolThread;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

        public void UnsafeOnCompleted(Action continuation) => ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
    }
}
