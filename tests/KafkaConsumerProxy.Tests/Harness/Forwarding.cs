using System.Reflection;
using System.Runtime.ExceptionServices;

namespace KafkaConsumerProxy.Tests.Harness;

/// <summary>For a <see cref="DispatchProxy"/> that stands in front of a real object: passes a call on.</summary>
public static class Forwarding
{
    /// <summary>
    /// Calls <paramref name="method"/> on <paramref name="inner"/> and throws what it throws, not the reflection
    /// wrapper around it (the code under test catches the client's own exceptions).
    /// </summary>
    public static object? Call(object inner, MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(inner, args);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
    }
}
