using System.Collections;

namespace KafkaConsumerProxy.Configuration;

/// <summary>
/// The time one evaluation of a <see cref="ResponseExpression"/> may take (<see cref="ResponseExpression.MaxEvaluationTime"/>),
/// checked wherever the evaluation touches the answer: at every read of a variable and of an element of a list of the
/// body (<see cref="BudgetedList"/>). Past it <see cref="Check"/> throws, and keeps throwing, so an expression whose cost
/// grows faster than the answer (an <c>in</c> over the body for each of its items, a list of lists built with
/// <c>map</c>) ends soon after its time is up.
/// </summary>
internal sealed class EvaluationBudget(TimeProvider time)
{
    private long _started = time.GetTimestamp();

    /// <summary>True once an evaluation ran out of time.</summary>
    public bool Exceeded { get; private set; }

    /// <summary>Starts the clock: what was spent reading the answer does not count.</summary>
    public void Start() => _started = time.GetTimestamp();

    /// <summary>Throws <see cref="TimeoutException"/> when the evaluation has run longer than it may.</summary>
    public void Check()
    {
        if (Exceeded || time.GetElapsedTime(_started) > ResponseExpression.MaxEvaluationTime)
        {
            Exceeded = true;
            throw new TimeoutException("response_expression ran out of time");
        }
    }
}

/// <summary>
/// A JSON array of the body as the evaluator sees it: a read-only list whose every element read, search and copy first
/// checks the <see cref="EvaluationBudget"/>. The evaluator reads lists through <see cref="IList"/> and
/// <see cref="IEnumerable{T}"/> (indexing, <c>size</c>, <c>in</c>, the comprehensions, equality, <c>+</c>).
/// </summary>
internal sealed class BudgetedList(List<object?> items, EvaluationBudget budget) : IList, IList<object?>, IReadOnlyList<object?>
{
    public int Count => items.Count;

    public bool IsReadOnly => true;

    public bool IsFixedSize => true;

    public bool IsSynchronized => false;

    public object SyncRoot => this;

    public object? this[int index]
    {
        get
        {
            budget.Check();
            return items[index];
        }

        set => throw new NotSupportedException();
    }

    public IEnumerator<object?> GetEnumerator()
    {
        foreach (var item in items)
        {
            budget.Check();
            yield return item;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // Each of these is linear in a list of at most 64 KiB of JSON: checked once before.
    public bool Contains(object? value)
    {
        budget.Check();
        return items.Contains(value);
    }

    public int IndexOf(object? value)
    {
        budget.Check();
        return items.IndexOf(value);
    }

    public void CopyTo(Array array, int index)
    {
        budget.Check();
        ((ICollection)items).CopyTo(array, index);
    }

    public void CopyTo(object?[] array, int arrayIndex)
    {
        budget.Check();
        items.CopyTo(array, arrayIndex);
    }

    public int Add(object? value) => throw new NotSupportedException();

    void ICollection<object?>.Add(object? item) => throw new NotSupportedException();

    public void Clear() => throw new NotSupportedException();

    public void Insert(int index, object? value) => throw new NotSupportedException();

    public void Remove(object? value) => throw new NotSupportedException();

    bool ICollection<object?>.Remove(object? item) => throw new NotSupportedException();

    public void RemoveAt(int index) => throw new NotSupportedException();
}
