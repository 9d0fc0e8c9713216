"""policyeval.estimators"""
